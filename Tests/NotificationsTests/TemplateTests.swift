import Foundation
@testable import Notifications
import RosterFlowCore
import XCTest

final class TemplateTests: XCTestCase {
    func testEveryTemplateTheWorkflowsSendLoadsAndFitsItsWorkflow() async throws {
        let catalog = try TemplateCatalog(folder: Paths.templates)
        let service = try await Fixture.service(folder: try Paths.folder())
        let uses = service.notificationUses()
        let templates = Set(uses.map(\.template))
        for required in ["integration-requested", "integration-waiting", "sync-time-needed", "sync-time-reminder",
                         "integration-rejected", "shells-created", "mapping-unverified", "mappings-awaiting-verification", "verified-courses",
                         "content-overdue", "course-added-after-startup", "sync-held"] {
            XCTAssertTrue(templates.contains(required), "no workflow sends \(required)")
        }
        XCTAssertNoThrow(try catalog.check(uses: uses.map { (workflow: $0.workflow, template: $0.template) }))
        XCTAssertTrue(uses.contains(NotificationUse(workflow: "integration", template: "sync-held", recipient: "district_admin")))
        XCTAssertTrue(uses.contains(NotificationUse(workflow: "integration", template: "integration-rejected", recipient: "school_contact")))
    }

    func testUndeclaredVariableIsALoadTimeError() throws {
        let folder = try Paths.folder()
        try #"{"templates": {"t": {"workflow": "integration", "variables": ["district"]}}}"#
            .write(toFile: folder + "/templates.json", atomically: true, encoding: .utf8)
        try "Hello {{district}}".write(toFile: folder + "/t.subject.mustache", atomically: true, encoding: .utf8)
        try "{{#course_title}}{{course_title}}{{/course_title}}".write(toFile: folder + "/t.text.mustache", atomically: true, encoding: .utf8)
        try "<p>{{district}}</p>".write(toFile: folder + "/t.html.mustache", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TemplateCatalog(folder: folder)) { error in
            XCTAssertEqual((error as? NotificationError)?.code, .template)
            XCTAssertTrue("\(error)".contains("uses 'course_title', which t does not declare"), "\(error)")
        }
    }

    func testVariableTheWorkflowDoesNotProvideIsALoadTimeError() throws {
        let folder = try Paths.folder()
        try #"{"templates": {"t": {"workflow": "integration", "variables": ["course_title"]}}}"#
            .write(toFile: folder + "/templates.json", atomically: true, encoding: .utf8)
        for part in ["subject", "text", "html"] {
            try "{{course_title}}".write(toFile: folder + "/t.\(part).mustache", atomically: true, encoding: .utf8)
        }
        XCTAssertThrowsError(try TemplateCatalog(folder: folder)) { error in
            XCTAssertTrue("\(error)".contains("declares 'course_title', which integration events do not provide"), "\(error)")
        }
    }

    func testHTMLPartEscapesValuesAndTextPartDoesNot() throws {
        let catalog = try TemplateCatalog(folder: Paths.templates)
        let mail = try XCTUnwrap(catalog["integration-requested"]).render([
            "district": "O'Brien & <Sons> ISD", "tenant_id": "t-obrien", "integration_id": "int_1", "contact_email": "a@b.example",
        ])
        XCTAssertEqual(mail.subject, "New integration request: O'Brien & <Sons> ISD")
        XCTAssertTrue(mail.text.contains("O'Brien & <Sons> ISD"))
        XCTAssertTrue(mail.html.contains("O&#39;Brien &amp; &lt;Sons&gt; ISD"), mail.html)
        XCTAssertFalse(mail.html.contains("<Sons>"))
    }

    func testTheDateHeaderIsWhatAnRFC5322DateFormatterWrites() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        // Every weekday and month, a leap day, the first and last second of a year, fractions of a second.
        var instants: [Double] = [0, 951_782_400, 1_709_164_800.999, 1_798_761_599, 1_798_761_600, 1_795_490_882.5]
        for day in 0..<400 { instants.append(1_767_225_600 + Double(day) * 86_400 + Double(day * 3_671 % 86_400)) }
        for instant in instants {
            let date = Date(timeIntervalSince1970: instant)
            XCTAssertEqual(MIME.rfc5322Date(date), formatter.string(from: date), "\(instant)")
        }
    }

    func testNonASCIISubjectIsEncodedAsRFC2047Words() {
        let encoded = MIME.unstructured("École Saint-Étienne: choisissez l'heure — très long sujet pour plier les mots encodés")
        XCTAssertTrue(encoded.hasPrefix("=?UTF-8?B?"))
        let words = encoded.components(separatedBy: "\r\n ")
        XCTAssertGreaterThan(words.count, 1)
        let decoded = words.map { word -> String in
            let base64 = word.dropFirst("=?UTF-8?B?".count).dropLast(2)
            return String(decoding: Data(base64Encoded: String(base64)) ?? Data(), as: UTF8.self)
        }.joined()
        XCTAssertEqual(decoded, "École Saint-Étienne: choisissez l'heure — très long sujet pour plier les mots encodés")
        for word in words { XCTAssertLessThanOrEqual(word.count, 75) }
        XCTAssertEqual(MIME.unstructured("plain"), "plain")
    }

    func testSecretsNeverPrint() throws {
        var config = NotificationConfig()
        config.webhooks = [WebhookSubscriber(name: "crm", url: "http://127.0.0.1:1/", secret: Secret(testSecret))]
        config.smtp = SMTPSettings(url: "smtp://127.0.0.1:25", username: "u", password: Secret("hunter2"))
        let printed = "\(config) \(String(describing: config)) \(String(reflecting: config))"
        XCTAssertFalse(printed.contains("hunter2"))
        XCTAssertFalse(printed.contains(String(testSecret.dropFirst(6))))
    }

    func testConfigFileAndEnvironment() throws {
        let folder = try Paths.folder()
        try """
            {"smtp": {"url": "smtp://127.0.0.1:2525", "starttls": true, "username": "u", "password": "p"},
             "from": "Vendor <noreply@vendor.example>",
             "recipients": {"vendor_admins": ["a@vendor.example"]},
             "webhooks": [{"name": "crm", "url": "http://127.0.0.1:9/hook", "secret": "\(testSecret)"}],
             "retry": {"base_seconds": 1, "max_attempts": 3}}
            """.write(toFile: folder + "/rosterflow.json", atomically: true, encoding: .utf8)
        let config = try NotificationConfig.load(
            file: folder + "/rosterflow.json", environment: ["ROSTERFLOW_DSP": "kim@dsp.example, lee@dsp.example"])
        XCTAssertEqual(config.smtp?.url, "smtp://127.0.0.1:2525")
        XCTAssertEqual(config.smtp?.startTLS, true)
        XCTAssertEqual(config.recipients["dsp"], ["kim@dsp.example", "lee@dsp.example"])
        XCTAssertEqual(config.retry.maxAttempts, 3)
        XCTAssertEqual(config.webhooks.map(\.name), ["crm"])
        XCTAssertThrowsError(try NotificationConfig.load(file: nil, environment: ["ROSTERFLOW_SMTP_URL": "http://x"])) {
            XCTAssertEqual(($0 as? NotificationError)?.code, .configuration)
        }
    }
}
