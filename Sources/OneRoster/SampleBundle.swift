import CodedErrors
import Foundation
import ZIPFoundation

/// Generates realistic, deterministic OneRoster bundles for demos, tests and benchmarks.
///
/// A generated district has one district org, a few schools, a school year with two semesters, courses
/// (about one per four classes), classes, teachers and students, and enrollments (one primary teacher per
/// class, the rest students placed in classes of their own school). Everything is `bulk`. The same seed gives
/// byte-identical files.
public enum SampleBundle {
    /// What was written.
    public struct Summary: Sendable, Equatable, Codable {
        /// Orgs (district + schools).
        public var orgs: Int
        /// Schools among the orgs.
        public var schools: Int
        /// Academic sessions.
        public var academicSessions: Int
        /// Courses.
        public var courses: Int
        /// Classes.
        public var classes: Int
        /// Users (teachers + students).
        public var users: Int
        /// Teachers among the users.
        public var teachers: Int
        /// Students among the users.
        public var students: Int
        /// Enrollments (teachers + students).
        public var enrollments: Int
        /// 1.2 roles.csv rows (0 for 1.1).
        public var roles: Int
        /// Demographics rows.
        public var demographics: Int
    }

    /// Errors of the generator.
    public struct GeneratorError: CodedError, Equatable {
        /// Stable codes.
        public enum Code: String, Sendable, Codable {
            /// The version string is not `1.1` or `1.2`.
            case unsupportedVersion = "unsupported-version"
            /// Counts must be positive (users ≥ 1, classes ≥ 1, enrollments ≥ 0).
            case badCount = "bad-count"
            /// The school year is before the base year, or a defect name is unknown.
            case badOption = "bad-option"
        }

        public var code: Code
        public var message: String
        public var site: ThrowSite

        /// An error with a code and a plain message; the caller's file and line are its ``site``.
        public init(_ code: Code, _ message: String, fileID: String = #fileID, fileLine: Int = #line) {
            self.code = code
            self.message = message
            self.site = ThrowSite(fileID: fileID, line: fileLine)
        }

        /// The version string is not `1.1` or `1.2`.
        public static func unsupportedVersion(_ version: String, fileID: String = #fileID, fileLine: Int = #line) -> Self {
            Self(.unsupportedVersion, "OneRoster version \(version) is not supported: use 1.1 or 1.2", fileID: fileID, fileLine: fileLine)
        }

        /// An option is out of range; `message` says which.
        public static func badOption(_ message: String, fileID: String = #fileID, fileLine: Int = #line) -> Self {
            Self(.badOption, message, fileID: fileID, fileLine: fileLine)
        }

        /// A count is out of range; `message` says which.
        public static func badCount(_ message: String, fileID: String = #fileID, fileLine: Int = #line) -> Self {
            Self(.badCount, message, fileID: fileID, fileLine: fileLine)
        }
    }

    /// The school year (`schoolYear`, the year it ends) a generated district is in unless told otherwise.
    public static let baseSchoolYear = 2025

    /// The defects ``write(to:users:classes:enrollments:version:seed:demographics:schoolYear:defects:)`` can add: one
    /// row each with a fault a reader tolerates, named by the tolerance's code (``IssueCode/tolerances``).
    public static let defectNames = IssueCode.tolerances.map(\.rawValue)

    /// Writes a sample bundle.
    /// - Parameters:
    ///   - url: A folder to create/fill, or a path ending in `.zip` to write a zip file.
    ///   - users: Total users (teachers + students).
    ///   - classes: Number of classes.
    ///   - enrollments: Total enrollments; fewer are written only if every student is already in every class of their school.
    ///   - version: `"1.1"` or `"1.2"`.
    ///   - seed: Seed of the deterministic generator.
    ///   - demographics: Also write demographics.csv (one row per user).
    ///   - schoolYear: The school year the district is in (the year it ends). The same seed gives the same district in
    ///     every year: after the base year (``baseSchoolYear``) students move up a grade a year and seniors leave, and
    ///     sessions, courses, classes and enrollments get new sourcedIds; of the courses, a quarter keep their code and
    ///     title, a quarter their code under a new title, a quarter their title (in capitals) under a new code, and a
    ///     quarter change both.
    ///   - defects: Tolerated faults to write, by code (``defectNames``), one row each.
    /// - Returns: The counts written.
    @discardableResult
    public static func write(to url: URL, users: Int, classes: Int, enrollments: Int, version: String = "1.2",
                             seed: UInt64 = 1, demographics: Bool = false, schoolYear: Int = baseSchoolYear,
                             defects: [String] = []) throws -> Summary {
        guard let v = OneRosterVersion(rawValue: version) else { throw GeneratorError.unsupportedVersion(version) }
        return try write(to: url, users: users, classes: classes, enrollments: enrollments, version: v, seed: seed,
                         demographics: demographics, schoolYear: schoolYear, defects: defects)
    }

    /// Writes a sample bundle (typed version).
    @discardableResult
    public static func write(to url: URL, users: Int, classes: Int, enrollments: Int, version: OneRosterVersion,
                             seed: UInt64 = 1, demographics: Bool = false, schoolYear: Int = baseSchoolYear,
                             defects: [String] = []) throws -> Summary {
        guard schoolYear >= baseSchoolYear, schoolYear <= 2200 else {
            throw GeneratorError.badOption("the school year is \(baseSchoolYear) (the year the sample's school year ends) or later, not \(schoolYear)")
        }
        if let unknown = defects.first(where: { !defectNames.contains($0) }) {
            throw GeneratorError.badOption("`\(unknown)` is not a defect the sample can write: \(defectNames.joined(separator: ", "))")
        }
        guard users >= 1 else { throw GeneratorError.badCount("users must be at least 1") }
        guard classes >= 1 else { throw GeneratorError.badCount("classes must be at least 1") }
        guard enrollments >= 0 else { throw GeneratorError.badCount("enrollments must not be negative") }
        let fm = FileManager.default
        if url.pathExtension.lowercased() == "zip" {
            let temp = fm.temporaryDirectory.appendingPathComponent("oneroster-sample-\(UUID().uuidString)", isDirectory: true)
            defer { try? fm.removeItem(at: temp) }
            try fm.createDirectory(at: temp, withIntermediateDirectories: true)
            var gen = Generator(users: users, classes: classes, enrollments: enrollments, version: version, seed: seed,
                                demographics: demographics, year: schoolYear)
            let summary = try gen.write(folder: temp)
            try SampleDefects.write(defects, folder: temp)
            if fm.fileExists(atPath: url.path) { try fm.removeItem(at: url) }
            let archive = try Archive(url: url, accessMode: .create)
            for name in try fm.contentsOfDirectory(atPath: temp.path).sorted() {
                try archive.addEntry(with: name, relativeTo: temp, compressionMethod: .deflate)
            }
            return summary
        }
        try fm.createDirectory(at: url, withIntermediateDirectories: true)
        var gen = Generator(users: users, classes: classes, enrollments: enrollments, version: version, seed: seed,
                            demographics: demographics, year: schoolYear)
        let summary = try gen.write(folder: url)
        try SampleDefects.write(defects, folder: url)
        return summary
    }
}

/// SplitMix64: small, fast, deterministic.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ upper: Int) -> Int { Int(next() % UInt64(max(1, upper))) }
    mutating func pick<T>(_ items: [T]) -> T { items[int(items.count)] }
}

/// Buffered byte-level CSV writer.
struct CSVByteWriter {
    let handle: FileHandle
    var buffer: [UInt8] = []
    var atLineStart = true

    init(url: URL) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        handle = try FileHandle(forWritingTo: url)
        buffer.reserveCapacity(1 << 20)
    }

    mutating func sep() {
        if atLineStart { atLineStart = false } else { buffer.append(0x2C) }
    }

    /// A field, quoted if needed.
    mutating func field(_ s: String) {
        sep()
        let needsQuotes = s.utf8.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
        if needsQuotes {
            buffer.append(0x22)
            for b in s.utf8 {
                if b == 0x22 { buffer.append(0x22) }
                buffer.append(b)
            }
            buffer.append(0x22)
        } else {
            buffer.append(contentsOf: s.utf8)
        }
    }

    /// A field known not to need quoting.
    mutating func raw(_ s: StaticString) {
        sep()
        s.withUTF8Buffer { buffer.append(contentsOf: $0) }
    }

    mutating func empty(_ n: Int = 1) {
        for _ in 0..<n { sep() }
    }

    /// `prefix` followed by `number` zero-padded to `width` digits.
    mutating func id(_ prefix: StaticString, _ number: Int, width: Int) {
        sep()
        prefix.withUTF8Buffer { buffer.append(contentsOf: $0) }
        var digits = [UInt8](repeating: 0x30, count: 20)
        var n = number, k = 20
        repeat {
            k -= 1
            digits[k] = UInt8(0x30 + n % 10)
            n /= 10
        } while n > 0
        let len = 20 - k
        if len < width { buffer.append(contentsOf: repeatElement(0x30, count: width - len)) }
        buffer.append(contentsOf: digits[k...])
    }

    mutating func endRow() throws {
        buffer.append(0x0A)
        atLineStart = true
        if buffer.count >= 1 << 20 { try flush() }
    }

    mutating func flush() throws {
        if !buffer.isEmpty {
            try handle.write(contentsOf: buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    mutating func close() throws {
        try flush()
        try handle.close()
    }
}

private extension CSVByteWriter {
    mutating func row(_ fields: [String]) throws {
        for f in fields { field(f) }
        try endRow()
    }
}

private struct Generator {
    let users: Int, classes: Int, enrollments: Int
    let version: OneRosterVersion
    let demographics: Bool
    var rng: SplitMix64
    let schools: Int, teachers: Int, students: Int, courses: Int
    let districtName: String
    /// The school year (the year it ends) and how many years after the base year it is.
    let year: Int
    var yearsAfter: Int { year - SampleBundle.baseSchoolYear }
    /// Students who left before this year (seniors who graduated), by student number.
    var leavers: [Bool] = []

    static let givenNames = ["Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Mateo", "Isabella", "Lucas",
                             "Mia", "Levi", "Amelia", "Ezra", "Harper", "Asher", "Evelyn", "James", "Luna", "Leo",
                             "Camila", "Aiden", "Sofia", "Kai", "Aaliyah", "Wei", "Priya", "Omar", "Zoe", "José",
                             "Chloé", "Nguyen", "Fatima", "Diego", "Hana", "Ravi"]
    static let familyNames = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
                              "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
                              "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Kim",
                              "Nguyen", "Patel", "O'Brien", "Müller", "Chen", "Singh", "Okafor", "Rossi"]
    static let places = ["Riverside", "Maple Grove", "Cedar Falls", "Lakeview", "Springfield", "Pine Ridge", "Oakdale",
                         "Brookside", "Fairview", "Hillcrest", "Westfield", "Eastwood"]
    static let subjects: [(String, String, [String])] = [
        ("Mathematics", "MATH", ["Algebra I", "Geometry", "Algebra II", "Pre-Calculus", "Statistics"]),
        ("English Language Arts", "ELA", ["English", "Literature", "Composition", "Reading"]),
        ("Science", "SCI", ["Biology", "Chemistry", "Physics", "Earth Science"]),
        ("Social Studies", "SS", ["World History", "US History", "Civics", "Geography"]),
        ("World Languages", "WL", ["Spanish", "French", "Mandarin"]),
        ("Arts", "ART", ["Visual Art", "Music", "Drama"]),
        ("Physical Education", "PE", ["Physical Education", "Health"]),
    ]
    static let levels: [(String, [String])] = [
        ("Elementary School", ["KG", "01", "02", "03", "04", "05"]),
        ("Middle School", ["06", "07", "08"]),
        ("High School", ["09", "10", "11", "12"]),
    ]

    init(users: Int, classes: Int, enrollments: Int, version: OneRosterVersion, seed: UInt64, demographics: Bool,
         year: Int = SampleBundle.baseSchoolYear) {
        self.year = year
        self.users = users
        self.classes = classes
        self.enrollments = enrollments
        self.version = version
        self.demographics = demographics
        rng = SplitMix64(seed: seed)
        schools = max(1, min(12, classes / 40 + 1, max(1, users / 2)))
        teachers = min(users, max(schools, (classes + 4) / 5))
        students = users - teachers
        courses = max(1, classes / 4)
        var nameRNG = SplitMix64(seed: seed ^ 0xD15C)
        districtName = Generator.places[nameRNG.int(Generator.places.count)]
    }

    func schoolLevel(_ k: Int) -> (String, [String]) { Generator.levels[(Generator.levels.count - 1 - k % 3)] }
    func classesIn(school k: Int) -> Int { (classes - k + schools - 1) / schools }
    func teachersIn(school k: Int) -> Int { (teachers - k + schools - 1) / schools }
    func teacherOf(class c: Int) -> Int {
        let k = c % schools
        return k + schools * ((c / schools) % teachersIn(school: k))
    }

    mutating func write(folder: URL) throws -> SampleBundle.Summary {
        var summary = SampleBundle.Summary(orgs: 1 + schools, schools: schools, academicSessions: 3, courses: courses,
                                           classes: classes, users: users, teachers: teachers, students: students,
                                           enrollments: 0, roles: 0, demographics: 0)
        try writeOrgs(folder)
        try writeSessions(folder)
        let courseInfo = try writeCourses(folder)
        try writeClasses(folder, courseInfo: courseInfo)
        summary.roles = try writeUsers(folder)
        let left = leavers.filter { $0 }.count
        summary.users -= left
        summary.students -= left
        if summary.roles > 0 { summary.roles -= left }
        summary.enrollments = try writeEnrollments(folder)
        if demographics { summary.demographics = try writeDemographics(folder) }
        try writeManifest(folder)
        return summary
    }

    func writeManifest(_ folder: URL) throws {
        var w = try CSVByteWriter(url: folder.appendingPathComponent("manifest.csv"))
        try w.row(["propertyName", "value"])
        try w.row(["manifest.version", "1.0"])
        try w.row(["oneroster.version", version.rawValue])
        var present: Set<OneRosterFile> = [.orgs, .academicSessions, .courses, .classes, .users, .enrollments]
        if version == .v1_2 { present.insert(.roles) }
        if demographics { present.insert(.demographics) }
        for file in OneRosterFile.files(in: version) {
            try w.row([file.manifestKey, present.contains(file) ? "bulk" : "absent"])
        }
        try w.row(["source.systemName", "RosterFlow sample generator"])
        try w.row(["source.systemCode", "rosterflow-sample"])
        try w.close()
    }

    mutating func writeOrgs(_ folder: URL) throws {
        var w = try CSVByteWriter(url: folder.appendingPathComponent("orgs.csv"))
        try w.row(["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"])
        try w.row(["org-district", "", "", "\(districtName) Unified School District", "district", "NCES-\(1_000_000 + rng.int(8_999_999))", ""])
        for k in 0..<schools {
            let (level, _) = schoolLevel(k)
            let place = Generator.places[(k + 1) % Generator.places.count]
            try w.row(["org-school-\(k + 1)", "", "", "\(place) \(level)", "school", "SCH-\(100 + k)", "org-district"])
        }
        try w.close()
    }

    func writeSessions(_ folder: URL) throws {
        var w = try CSVByteWriter(url: folder.appendingPathComponent("academicSessions.csv"))
        try w.row(["sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear"])
        let y = year, p = year - 1, yy = pad(year % 100, 2)
        try w.row(["as-\(y)", "", "", "\(p)-\(yy) School Year", "schoolYear", "\(p)-08-19", "\(y)-06-14", "", "\(y)"])
        try w.row(["as-\(y)-s1", "", "", "Fall \(p)", "semester", "\(p)-08-19", "\(y)-01-18", "as-\(y)", "\(y)"])
        try w.row(["as-\(y)-s2", "", "", "Spring \(y)", "semester", "\(y)-01-21", "\(y)-06-14", "as-\(y)", "\(y)"])
        try w.close()
    }

    /// Writes courses; returns per course (title, subject, subject code, grades).
    mutating func writeCourses(_ folder: URL) throws -> [(String, String, String, [String])] {
        var w = try CSVByteWriter(url: folder.appendingPathComponent("courses.csv"))
        try w.row(["sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode", "grades",
                   "orgSourcedId", "subjects", "subjectCodes"])
        var info: [(String, String, String, [String])] = []
        for i in 0..<courses {
            let (subject, code, titles) = Generator.subjects[i % Generator.subjects.count]
            let (_, levelGrades) = Generator.levels[rng.int(Generator.levels.count)]
            let g = rng.int(levelGrades.count)
            let grades = Array(levelGrades[g..<min(levelGrades.count, g + 2)])
            var title = "\(titles[(i / Generator.subjects.count) % titles.count]) \(grades[0])"
            var courseCode = "\(code)-\(100 + i)"
            if yearsAfter > 0 {
                // A quarter keep code and title, a quarter the code only, a quarter the title only, a quarter neither.
                switch i % 4 {
                case 1: title = "\(title) (revised)"
                case 2: title = title.uppercased(); courseCode = "\(code)-\(100 + i)-\(year)"
                case 3: title = "Advanced \(title)"; courseCode = "\(code)-\(100 + i)-\(year)"
                default: break
                }
            }
            info.append((title, subject, code, grades))
            try w.row([courseID(i), "", "", "as-\(year)", title, courseCode, grades.joined(separator: ","),
                       "org-district", subject, code])
        }
        try w.close()
        return info
    }

    mutating func writeClasses(_ folder: URL, courseInfo: [(String, String, String, [String])]) throws {
        var w = try CSVByteWriter(url: folder.appendingPathComponent("classes.csv"))
        try w.row(["sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode", "classType",
                   "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes", "periods"])
        for c in 0..<classes {
            let course = c % courses
            let (title, subject, code, grades) = courseInfo[course]
            let period = 1 + rng.int(8)
            let terms = c % 3 == 0 ? "as-\(year)-s1,as-\(year)-s2" : (c % 3 == 1 ? "as-\(year)-s1" : "as-\(year)-s2")
            try w.row([classID(c), "", "", "\(title) - Period \(period)", grades.joined(separator: ","), courseID(course),
                       "\(code)-\(100 + course)-\(c + 1)", c % 25 == 24 ? "homeroom" : "scheduled", "Room \(100 + rng.int(300))",
                       "org-school-\(c % schools + 1)", terms, subject, code, "\(period)"])
        }
        try w.close()
    }

    /// Writes users (and 1.2 roles); returns the number of roles.csv rows.
    mutating func writeUsers(_ folder: URL) throws -> Int {
        var w = try CSVByteWriter(url: folder.appendingPathComponent("users.csv"))
        if version == .v1_1 {
            try w.row(["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username", "userIds",
                       "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds",
                       "grades", "password"])
        } else {
            try w.row(["sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName",
                       "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
                       "password", "userMasterIdentifier", "preferredGivenName", "preferredMiddleName",
                       "preferredFamilyName", "primaryOrgSourcedId", "pronouns"])
        }
        var roles: CSVByteWriter?
        if version == .v1_2 {
            roles = try CSVByteWriter(url: folder.appendingPathComponent("roles.csv"))
            try roles!.row(["sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate",
                            "endDate", "orgSourcedId", "userProfileSourcedId"])
        }
        let domain = districtName.lowercased().replacingOccurrences(of: " ", with: "") + ".k12.example.org"
        for u in 0..<users {
            let isTeacher = u < teachers
            let n = isTeacher ? u : u - teachers
            let id = isTeacher ? "tch-\(pad(n + 1, 6))" : "stu-\(pad(n + 1, 7))"
            let school = n % schools
            let given = rng.pick(Generator.givenNames)
            let family = rng.pick(Generator.familyNames)
            let username = "\(ascii(given).lowercased()).\(ascii(family).lowercased())\(n + 1)"
            let levelGrades = schoolLevel(school).1
            let gradeIndex = isTeacher ? 0 : rng.int(levelGrades.count) + yearsAfter
            // Seniors leave when the year turns; students of other schools stay in their school's last grade.
            let leaves = !isTeacher && gradeIndex >= levelGrades.count && schoolLevel(school).0 == "High School"
            if !isTeacher { leavers.append(leaves) }
            let grade = isTeacher ? "" : levelGrades[min(gradeIndex, levelGrades.count - 1)]
            let role = isTeacher ? "teacher" : "student"
            let identifier = isTeacher ? "T\(10_000 + n)" : "\(200_000 + n)"
            let middle = rng.int(4) == 0 ? String(rng.pick(Generator.givenNames).prefix(1)) : ""
            if leaves { continue }
            if version == .v1_1 {
                try w.row([id, "", "", "true", "org-school-\(school + 1)", role, username, "{SIS:\(identifier)}", given, family,
                           middle, identifier, "\(username)@\(domain)", "", "", "", grade, ""])
            } else {
                try w.row([id, "", "", "true", username, "{SIS:\(identifier)}", given, family, middle, identifier,
                           "\(username)@\(domain)", "", "", "", grade, "", "", "", "", "", "org-school-\(school + 1)", ""])
                try roles!.row(["rol-\(id)", "", "", id, "primary", role, "", "", "org-school-\(school + 1)", ""])
            }
        }
        try w.close()
        if var r = roles {
            try r.close()
            return users
        }
        return 0
    }

    mutating func writeEnrollments(_ folder: URL) throws -> Int {
        var w = try CSVByteWriter(url: folder.appendingPathComponent("enrollments.csv"))
        try w.row(["sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId", "userSourcedId", "role",
                   "primary", "beginDate", "endDate"])
        var written = 0
        let later = yearsAfter > 0
        func enrollment(_ w: inout CSVByteWriter, cls: Int, school: Int, userPrefix: StaticString, user: Int, width: Int,
                        teacher: Bool) throws {
            written += 1
            if later {
                w.field("enr-\(year)-\(pad(written, 8))")
                w.empty(2)
                w.field(classID(cls))
            } else {
                w.id("enr-", written, width: 8)
                w.empty(2)
                w.id("cls-", cls + 1, width: 0)
            }
            w.id("org-school-", school + 1, width: 0)
            w.id(userPrefix, user + 1, width: width)
            if teacher { w.raw("teacher"); w.raw("true") } else { w.raw("student"); w.empty() }
            w.empty(2)
            try w.endRow()
        }
        for c in 0..<min(classes, enrollments) {
            try enrollment(&w, cls: c, school: c % schools, userPrefix: "tch-", user: teacherOf(class: c), width: 6, teacher: true)
        }
        if students > 0 {
            let maxRounds = (0..<schools).map { classesIn(school: $0) }.max() ?? 0
            var offsets = [Int](repeating: 0, count: students)
            for s in 0..<students { offsets[s] = rng.int(classesIn(school: s % schools)) }
            var round = 0
            outer: while written < enrollments && round < maxRounds {
                for s in 0..<students {
                    if written >= enrollments { break outer }
                    let k = s % schools
                    let m = classesIn(school: k)
                    guard round < m else { continue }
                    let j = (offsets[s] + round) % m
                    if later, leavers[s] { continue }
                    try enrollment(&w, cls: k + j * schools, school: k, userPrefix: "stu-", user: s, width: 7, teacher: false)
                }
                round += 1
            }
        }
        try w.close()
        return written
    }

    mutating func writeDemographics(_ folder: URL) throws -> Int {
        var w = try CSVByteWriter(url: folder.appendingPathComponent("demographics.csv"))
        try w.row(["sourcedId", "status", "dateLastModified", "birthDate", "sex", "americanIndianOrAlaskaNative", "asian",
                   "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
                   "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation", "cityOfBirth",
                   "publicSchoolResidenceStatus"])
        for u in 0..<users {
            let isTeacher = u < teachers
            let id = isTeacher ? "tch-\(pad(u + 1, 6))" : "stu-\(pad(u - teachers + 1, 7))"
            let year = isTeacher ? 1960 + rng.int(40) : 2006 + rng.int(14)
            let birth = "\(year)-\(pad(1 + rng.int(12), 2))-\(pad(1 + rng.int(28), 2))"
            let race = rng.int(6)
            var flags = (0..<6).map { $0 == race ? "true" : "false" }
            flags.append(rng.int(4) == 0 ? "true" : "false")
            let sex = rng.int(2) == 0 ? "female" : "male"
            if !isTeacher, leavers.count > u - teachers, leavers[u - teachers] { continue }
            try w.row([id, "", "", birth, sex] + flags + ["US", "", "", ""])
        }
        try w.close()
        return users - leavers.filter { $0 }.count
    }

    /// The sourcedIds of a course and a class: new ones each school year after the base year.
    func courseID(_ i: Int) -> String { yearsAfter > 0 ? "crs-\(year)-\(i + 1)" : "crs-\(i + 1)" }
    func classID(_ c: Int) -> String { yearsAfter > 0 ? "cls-\(year)-\(c + 1)" : "cls-\(c + 1)" }

    func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    func ascii(_ s: String) -> String {
        String(s.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic) }.map(Character.init))
    }
}

/// Tolerated faults written into a generated bundle, one row each (`rosterflow sample-bundle --defects LIST`).
enum SampleDefects {
    /// Where each defect goes: file, data row (1 = first after the header), column, value.
    static let edits: [String: [(String, Int, String, String)]] = [
        "dangling-optional-reference": [("orgs.csv", 1, "parentSourcedId", "org-state-outside-the-export")],
        "enum-letter-case": [("classes.csv", 1, "classType", "Scheduled"), ("users.csv", 1, "enabledUser", "TRUE"),
                             ("enrollments.csv", 1, "role", "Teacher")],
        "non-iso-timestamp": [("users.csv", 2, "dateLastModified", "2017-05-06 08:01:05")],
        "unreadable-timestamp": [("enrollments.csv", 2, "dateLastModified", "1/05/2023")],
        "imprecise-timestamp": [("courses.csv", 1, "dateLastModified", "2024-05-01")],
        "legacy-status": [("enrollments.csv", 3, "status", "inactive")],
    ]

    static func write(_ defects: [String], folder: URL) throws {
        for defect in defects {
            for (file, row, column, value) in edits[defect] ?? [] {
                let url = folder.appendingPathComponent(file)
                var lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
                guard lines.count > row, let index = splitCSVLine(lines[0]).firstIndex(of: column) else { continue }
                var fields = splitCSVLine(lines[row])
                guard index < fields.count else { continue }
                fields[index] = value
                lines[row] = fields.map(quoted).joined(separator: ",")
                try Data(lines.joined(separator: "\n").utf8).write(to: url)
            }
        }
    }

    /// The fields of one line of a generated file (quoted fields hold no line breaks there).
    static func splitCSVLine(_ line: String) -> [String] {
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var chars = Array(line)[...]
        while let c = chars.popFirst() {
            if inQuotes {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { inQuotes = false }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                inQuotes = true
            } else if c == "," {
                fields.append(field)
                field = ""
            } else {
                field.append(c)
            }
        }
        fields.append(field)
        return fields
    }

    static func quoted(_ field: String) -> String {
        field.contains(where: { $0 == "," || $0 == "\"" }) ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }
}
