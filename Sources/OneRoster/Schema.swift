import Foundation

/// A CSV file a OneRoster bundle can contain (the manifest's `file.<name>` keys).
public enum OneRosterFile: String, OneRosterEnumeration, Comparable {
    /// `academicSessions.csv`.
    case academicSessions
    /// `categories.csv`.
    case categories
    /// `classes.csv`.
    case classes
    /// `classResources.csv`.
    case classResources
    /// `courses.csv`.
    case courses
    /// `courseResources.csv`.
    case courseResources
    /// `demographics.csv`.
    case demographics
    /// `enrollments.csv`.
    case enrollments
    /// `lineItemLearningObjectiveIds.csv` (1.2 only).
    case lineItemLearningObjectiveIds
    /// `lineItems.csv`.
    case lineItems
    /// `lineItemScoreScales.csv` (1.2 only).
    case lineItemScoreScales
    /// `orgs.csv`.
    case orgs
    /// `resources.csv`.
    case resources
    /// `resultLearningObjectiveIds.csv` (1.2 only).
    case resultLearningObjectiveIds
    /// `results.csv`.
    case results
    /// `resultScoreScales.csv` (1.2 only).
    case resultScoreScales
    /// `roles.csv` (1.2 only).
    case roles
    /// `scoreScales.csv` (1.2 only).
    case scoreScales
    /// `userProfiles.csv` (1.2 only).
    case userProfiles
    /// `userResources.csv` (1.2 only).
    case userResources
    /// `users.csv`.
    case users

    /// The file name in the bundle, e.g. `orgs.csv`.
    public var fileName: String { rawValue + ".csv" }

    /// The manifest key, e.g. `file.orgs`.
    public var manifestKey: String { "file." + rawValue }

    /// Files defined by a version.
    public static func files(in version: OneRosterVersion) -> [OneRosterFile] {
        switch version {
        case .v1_1:
            return [.academicSessions, .categories, .classes, .classResources, .courses, .courseResources, .demographics,
                    .enrollments, .lineItems, .orgs, .resources, .results, .users]
        case .v1_2:
            return allCases
        }
    }

    /// The rostering files this library reads into typed records, in reading order.
    public static func rosteringFiles(in version: OneRosterVersion) -> [OneRosterFile] {
        switch version {
        case .v1_1: return [.orgs, .academicSessions, .courses, .classes, .users, .demographics, .enrollments]
        case .v1_2: return [.orgs, .academicSessions, .courses, .classes, .users, .userProfiles, .roles, .demographics, .enrollments]
        }
    }

    /// The entity whose rows the file holds, for rostering files.
    public var entity: OneRosterEntity? {
        switch self {
        case .orgs: return .org
        case .academicSessions: return .academicSession
        case .courses: return .course
        case .classes: return .rosterClass
        case .users: return .user
        case .roles: return .role
        case .userProfiles: return .userProfile
        case .demographics: return .demographics
        case .enrollments: return .enrollment
        default: return nil
        }
    }

    /// Orders files by name.
    public static func < (lhs: OneRosterFile, rhs: OneRosterFile) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A kind of record that can be referred to by sourcedId.
public enum OneRosterEntity: String, OneRosterEnumeration {
    /// An org (orgs.csv).
    case org
    /// An academic session (academicSessions.csv).
    case academicSession
    /// A course (courses.csv).
    case course
    /// A class (classes.csv).
    case rosterClass = "class"
    /// A user (users.csv).
    case user
    /// A 1.2 role (roles.csv).
    case role
    /// A 1.2 user profile (userProfiles.csv).
    case userProfile
    /// Demographics (demographics.csv).
    case demographics
    /// An enrollment (enrollments.csv).
    case enrollment

    /// The file holding this entity.
    public var file: OneRosterFile {
        switch self {
        case .org: return .orgs
        case .academicSession: return .academicSessions
        case .course: return .courses
        case .rosterClass: return .classes
        case .user: return .users
        case .role: return .roles
        case .userProfile: return .userProfiles
        case .demographics: return .demographics
        case .enrollment: return .enrollments
        }
    }

    /// Position in ``allCases``.
    var ordinal: Int {
        switch self {
        case .org: return 0
        case .academicSession: return 1
        case .course: return 2
        case .rosterClass: return 3
        case .user: return 4
        case .role: return 5
        case .userProfile: return 6
        case .demographics: return 7
        case .enrollment: return 8
        }
    }

    /// "a" or "an" for ``noun``.
    var article: String { ["a", "e", "i", "o", "u"].contains(noun.prefix(1)) ? "an" : "a" }

    /// Plain-words name for messages.
    var noun: String {
        switch self {
        case .org: return "org"
        case .academicSession: return "academic session"
        case .course: return "course"
        case .rosterClass: return "class"
        case .user: return "user"
        case .role: return "role"
        case .userProfile: return "user profile"
        case .demographics: return "demographics record"
        case .enrollment: return "enrollment"
        }
    }
}

/// Column layout of one rostering file in one version.
struct FileSchema: Sendable {
    /// Defined columns in standard order.
    let columns: [String]
    /// Columns whose value is required in every row.
    let required: Set<String>
    /// Columns seen in real exporters that the standard does not define; kept in extensions without a warning.
    let tolerated: Set<String>

    static let common = ["sourcedId", "status", "dateLastModified"]

    static func schema(for file: OneRosterFile, version: OneRosterVersion) -> FileSchema? {
        switch file {
        case .orgs:
            return FileSchema(columns: common + ["name", "type", "identifier", "parentSourcedId"],
                              required: ["sourcedId", "name", "type"], tolerated: [])
        case .academicSessions:
            return FileSchema(columns: common + ["title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear"],
                              required: ["sourcedId", "title", "type", "startDate", "endDate", "schoolYear"], tolerated: [])
        case .courses:
            return FileSchema(columns: common + ["schoolYearSourcedId", "title", "courseCode", "grades", "orgSourcedId",
                                                 "subjects", "subjectCodes"],
                              required: ["sourcedId", "title", "orgSourcedId"], tolerated: [])
        case .classes:
            return FileSchema(columns: common + ["title", "grades", "courseSourcedId", "classCode", "classType", "location",
                                                 "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes", "periods"],
                              required: ["sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds"],
                              tolerated: [])
        case .users:
            switch version {
            case .v1_1:
                return FileSchema(columns: common + ["enabledUser", "orgSourcedIds", "role", "username", "userIds", "givenName",
                                                     "familyName", "middleName", "identifier", "email", "sms", "phone",
                                                     "agentSourcedIds", "grades", "password"],
                                  required: ["sourcedId", "enabledUser", "orgSourcedIds", "role", "username", "givenName", "familyName"],
                                  tolerated: [])
            case .v1_2:
                return FileSchema(columns: common + ["enabledUser", "username", "userIds", "givenName", "familyName", "middleName",
                                                     "identifier", "email", "sms", "phone", "agentSourcedIds", "grades", "password",
                                                     "userMasterIdentifier", "preferredGivenName", "preferredMiddleName",
                                                     "preferredFamilyName", "primaryOrgSourcedId", "pronouns"],
                                  required: ["sourcedId", "enabledUser", "givenName", "familyName"],
                                  tolerated: ["resourceSourcedIds"])
            }
        case .roles:
            return FileSchema(columns: common + ["userSourcedId", "roleType", "role", "beginDate", "endDate", "orgSourcedId",
                                                 "userProfileSourcedId"],
                              required: ["sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"], tolerated: [])
        case .userProfiles:
            return FileSchema(columns: common + ["userSourcedId", "profileType", "vendorId", "applicationId", "description",
                                                 "credentialType", "username", "password"],
                              required: ["sourcedId", "userSourcedId", "profileType", "vendorId"], tolerated: [])
        case .demographics:
            return FileSchema(columns: common + ["birthDate", "sex", "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
                                                 "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
                                                 "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation",
                                                 "cityOfBirth", "publicSchoolResidenceStatus"],
                              required: ["sourcedId"], tolerated: [])
        case .enrollments:
            return FileSchema(columns: common + ["classSourcedId", "schoolSourcedId", "userSourcedId", "role", "primary",
                                                 "beginDate", "endDate"],
                              required: ["sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"], tolerated: [])
        default:
            return nil
        }
    }

    /// The defined column closest to `header` if it looks like a misspelling: same text in another case,
    /// or at most two single-character edits away.
    func nearMiss(of header: String) -> String? {
        if header.hasPrefix("metadata.") { return nil }
        var best: (String, Int)?
        for column in columns {
            if column.lowercased() == header.lowercased() { return column }
            let d = editDistance(header, column, limit: 2)
            if d <= 2, best == nil || d < best!.1 { best = (column, d) }
        }
        // Very short headers are too easily "near" something.
        guard let (column, _) = best, header.count >= 4 else { return nil }
        return column
    }
}

/// Levenshtein distance, giving up (returning `limit + 1`) once it exceeds `limit`.
func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
    let x = Array(a.utf8), y = Array(b.utf8)
    if abs(x.count - y.count) > limit { return limit + 1 }
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    var cur = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
        cur[0] = i
        var rowMin = cur[0]
        for j in 1...y.count {
            let cost = x[i - 1] == y[j - 1] ? 0 : 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            rowMin = min(rowMin, cur[j])
        }
        if rowMin > limit { return limit + 1 }
        swap(&prev, &cur)
    }
    return prev[y.count]
}

/// CEDS Entry Grade Level codes used by OneRoster `grades`.
let cedsGrades: Set<String> = [
    "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13",
    "PS", "UG", "Other",
]
