import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Notifications
import OneRoster
import RosterFlowCore
import RosterFlowServer
import StorageCore
import XCTest

/// Term rollover on the teacher's own page (signed in with ClassLink): the open next-term offer with its one-click
/// import, the ended classes, and the e-mailed link landing on the page through sign-in.
final class TeacherNextTermPageTests: XCTestCase {
    /// The person of the roster file `users.csv` in `bundle` as ClassLink knows them in `tenant`.
    static func person(_ bundle: String, sourcedID: String, userID: String, tenant: String) throws -> FakeClassLink.Person {
        let lines = try String(contentsOfFile: bundle + "/users.csv", encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        let header = lines[0]
        let row = try XCTUnwrap(lines.dropFirst().map { Dictionary(zip(header, $0), uniquingKeysWith: { a, _ in a }) }
            .first { $0["sourcedId"] == sourcedID })
        return FakeClassLink.Person(
            userID: userID, tenantID: tenant, sourcedID: sourcedID, loginID: row["username"] ?? "", email: row["email"] ?? "",
            name: "\(row["givenName"] ?? "") \(row["familyName"] ?? "")")
    }

    /// The state of class `classID` on the teacher's list of `integrationID`.
    static func state(_ f: APIFixture, _ integrationID: String, _ teacher: String, _ classID: String) throws -> String? {
        try f.service.availableClasses(teacher: teacher, integrationID: integrationID).flatMap(\.classes).first { $0.classSourcedID == classID }?.state
    }

    func testTheTeachersPageShowsTheOfferImportsItInOneClickAndTheEmailedLinkSignsThemInFirst() async throws {
        let fake = try FakeClassLink()
        try await fake.run { fake in
            let f = try await APIFixture()
            defer { f.remove() }
            let secretEnv = "RF_TEST_CLASSLINK_SECRET_" + UUID().uuidString.prefix(8).replacingOccurrences(of: "-", with: "")
            setenv(secretEnv, fake.secret, 1)
            // Springfield (t-1) and Shelbyville (t-2) hold the same roster (the same sourcedIds), both on-demand.
            let (bundle, teacher) = try TermRolloverAPITests.district(folder: f.folder, now: f.clock.now)
            for id in [f.springfield, f.shelbyville] {
                try await f.schedule(id)
                _ = try await f.service.setProvisioningMode(integrationID: id, mode: .onDemand, actor: "test")
                _ = try await f.service.runSync(integrationID: id, bundlePath: bundle, actor: "test")
                _ = try await f.service.setClassLinkSignIn(
                    integrationID: id, issuer: fake.issuer, clientID: fake.clientID, secretEnv: secretEnv, scopes: ["openid", "profile"],
                    userInfoURL: fake.userInfoURL, actor: "test")
            }
            _ = try await f.service.importClasses(teacher: teacher, classes: ["cls-8"], integrationID: f.springfield, actor: "t")
            _ = try await f.service.importClasses(teacher: teacher, classes: ["cls-8"], integrationID: f.shelbyville, actor: "t")
            // The fall term ends: Springfield's teacher is offered cls-3; Shelbyville's offer is declined at once.
            for _ in 0..<4 {
                f.clock.advance(86_400)
                _ = try await f.service.fireDueTimers()
            }
            _ = try await f.service.answerNextTermOffer(teacher: teacher, accept: false, integrationID: f.shelbyville, actor: "t")
            XCTAssertEqual(try f.service.nextTermOffers(teacher: teacher, integrationID: f.springfield).first?.status, "open")
            let cls3 = try XCTUnwrap(try f.service.nextTermOffers(teacher: teacher, integrationID: f.springfield).first?.classes.first?.title)
            let springfieldTeacher = try Self.person(bundle, sourcedID: teacher, userID: "3003", tenant: "t-1")
            let shelbyvilleTeacher = try Self.person(bundle, sourcedID: teacher, userID: "4004", tenant: "t-2")

            // ClassLink's clock keeps pace with RosterFlow's (its id_tokens would look expired otherwise).
            fake.clockOffset = f.clock.now - Date().timeIntervalSince1970
            let router = RosterFlowServer.router(
                service: f.service, logger: Logger(label: "test"), dashboard: DashboardOptions(publicURL: ClassLinkWorld.base))
            let app = Application(responder: RosterFlowServer.responder(for: router, logger: Logger(label: "test")))
            try await app.test(.router) { client in
                // The e-mailed link without a session: to Sign in with ClassLink for that district, then to the page.
                let browser = Browser()
                let link = try await browser.get(client, "/dashboard/teacher?integration=\(f.springfield)")
                XCTAssertEqual(link.status, 302, link.text)
                XCTAssertEqual(link.headers[.location], "/sign-in/classlink?integration=\(f.springfield)")
                let start = try await browser.get(client, try XCTUnwrap(link.headers[.location]))
                let callback = ClassLinkWorld.path(try fake.authorize(try XCTUnwrap(start.headers[.location]), as: springfieldTeacher))
                let signedIn = try await browser.get(client, callback)
                XCTAssertEqual(signedIn.headers[.location], "/dashboard/teacher", signedIn.text)
                let page = try await browser.get(client, "/dashboard/teacher?integration=\(f.springfield)")
                XCTAssertEqual(page.status, 200, page.text)
                XCTAssertTrue(page.text.contains("Next term&#39;s classes") || page.text.contains("Next term's classes"), page.text)
                XCTAssertTrue(page.text.contains("\(cls3) (cls-3)"), page.text)
                XCTAssertTrue(page.text.contains("action=\"/dashboard/teacher/next-term-offer\""), page.text)
                // The ended class is listed with the day it will be archived (14 days after its term ended).
                XCTAssertTrue(page.text.contains("Ended classes"), page.text)
                XCTAssertTrue(page.text.contains("(cls-8): its term is over; it stays open with its students until"), page.text)

                // Without the form's CSRF token nothing happens.
                let forged = try await browser.post(client, "/dashboard/teacher/next-term-offer", ["answer": "accept"], csrf: "forged")
                XCTAssertEqual(forged.status, 403)
                XCTAssertEqual(try f.service.nextTermOffers(teacher: teacher, integrationID: f.springfield).first?.status, "open")

                // The same teacher signed in to the other district (same sourcedId, tenant t-2): the Springfield link sends
                // them through Springfield's sign-in, and their own answer finds no open offer there; Springfield's stays open.
                let other = Browser()
                let otherStart = try await other.get(client, "/sign-in/classlink?integration=\(f.shelbyville)")
                let otherCallback = ClassLinkWorld.path(try fake.authorize(try XCTUnwrap(otherStart.headers[.location]), as: shelbyvilleTeacher))
                let otherSignedIn = try await other.get(client, otherCallback)
                XCTAssertEqual(otherSignedIn.headers[.location], "/dashboard/teacher", otherSignedIn.text)
                let otherPage = try await other.get(client, "/dashboard/teacher")
                XCTAssertEqual(otherPage.status, 200, otherPage.text)
                XCTAssertFalse(otherPage.text.contains("next-term-offer"), "Shelbyville's page shows an offer")
                let crossLink = try await other.get(client, "/dashboard/teacher?integration=\(f.springfield)")
                XCTAssertEqual(crossLink.status, 302)
                XCTAssertEqual(crossLink.headers[.location], "/sign-in/classlink?integration=\(f.springfield)")
                let refused = try await other.post(client, "/dashboard/teacher/next-term-offer", ["answer": "accept"])
                XCTAssertEqual(refused.status, 404, refused.text)
                XCTAssertTrue(refused.text.contains("no-open-offer"), refused.text)
                XCTAssertEqual(try f.service.nextTermOffers(teacher: teacher, integrationID: f.springfield).first?.status, "open")
                XCTAssertEqual(try Self.state(f, f.shelbyville, teacher, "cls-3"), "available")

                // One click imports every offered class, through the same service function as the API.
                let accepted = try await browser.post(client, "/dashboard/teacher/next-term-offer", ["answer": "accept"])
                XCTAssertEqual(accepted.status, 200, accepted.text)
                XCTAssertTrue(accepted.text.contains("\(cls3): imported"), accepted.text)
                XCTAssertFalse(accepted.text.contains("action=\"/dashboard/teacher/next-term-offer\""), "the answered offer is still shown")
                let offer = try XCTUnwrap(try f.service.nextTermOffers(teacher: teacher, integrationID: f.springfield).first)
                XCTAssertEqual(offer.status, "accepted")
                XCTAssertEqual(offer.decidedBy, "classlink:\(f.springfield):\(teacher)")
                XCTAssertEqual(try Self.state(f, f.springfield, teacher, "cls-3"), "imported")
                let again = try await browser.post(client, "/dashboard/teacher/next-term-offer", ["answer": "accept"])
                XCTAssertEqual(again.status, 404, "an answered offer was answered again")
            }

            // After the grace period the ended class shows as archived, with who can restore it.
            for _ in 0..<15 {
                f.clock.advance(86_400)
                _ = try await f.service.fireDueTimers()
            }
            let ended = try f.service.endedClasses(teacher: teacher, integrationID: f.springfield)
            XCTAssertEqual(ended.map(\.classSourcedID), ["cls-8"])
            XCTAssertEqual(ended.first?.state, "archived")

            // The e-mail's link points at the teacher's page of that district when a public URL is configured.
            let store = try RosterFlowService.openStore(databasePath: f.folder + "/api.sqlite")
            let message = try XCTUnwrap(try store.readNow { tx in
                try tx.outboxMessages(status: nil, limit: 1000).first { $0.template == "next-term-classes" && $0.payload.contains(f.springfield) }
            })
            var config = NotificationConfig()
            config.publicURL = "https://rosterflow.example.org/"
            let catalog = try TemplateCatalog(folder: APIFixture.repositoryRoot + "/Templates")
            let dispatcher = OutboxDispatcher(store: store, config: config, templates: catalog, workerID: "test", spoolFolder: f.folder + "/spool")
            let values = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: String])
            // The parts are quoted-printable: soft line breaks and `=3D` undone.
            let mail = try dispatcher.composeMail(message, values: values, to: ["teacher@example.org"])
                .replacingOccurrences(of: "=\r\n", with: "").replacingOccurrences(of: "=\n", with: "").replacingOccurrences(of: "=3D", with: "=")
            XCTAssertTrue(mail.contains("your classes page: https://rosterflow.example.org/dashboard/teacher?integration=\(f.springfield) "), mail)
            XCTAssertTrue(mail.contains("<a href=\"https://rosterflow.example.org/dashboard/teacher?integration=\(f.springfield)\">"), mail)
            let plain = try OutboxDispatcher(store: store, config: NotificationConfig(), templates: catalog, workerID: "test", spoolFolder: f.folder + "/spool")
                .composeMail(message, values: values, to: ["teacher@example.org"])
                .replacingOccurrences(of: "=\r\n", with: "").replacingOccurrences(of: "=\n", with: "")
            XCTAssertFalse(plain.contains("/dashboard/teacher?"), "a link without a public URL")
            XCTAssertTrue(plain.contains("LaunchPad"), plain)
        }
    }
}
