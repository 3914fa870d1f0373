import Foundation

// Typed OneRoster records. Every record carries `extensions`: the non-empty values of columns the standard
// does not define for that file (`metadata.*` columns and any other extra column), keyed by header name.

/// An organization (orgs.csv): a district, school, department, etc.
public struct Org: Sendable, Equatable, Codable {
    /// Unique, stable identifier.
    public var sourcedId: String
    /// Record status (blank reads as active).
    public var status: RecordStatus
    /// When the record last changed, if given.
    public var dateLastModified: Date?
    /// Display name.
    public var name: String
    /// Kind of organization.
    public var type: OrgType
    /// External identifier such as a state or NCES id.
    public var identifier: String?
    /// The parent org (e.g. a school's district).
    public var parentSourcedId: String?
    /// Extra columns (`metadata.*` and others) with non-empty values.
    public var extensions: [String: String]

    /// Creates an org.
    public init(sourcedId: String, status: RecordStatus = .active, dateLastModified: Date? = nil, name: String,
                type: OrgType, identifier: String? = nil, parentSourcedId: String? = nil, extensions: [String: String] = [:]) {
        self.sourcedId = sourcedId
        self.status = status
        self.dateLastModified = dateLastModified
        self.name = name
        self.type = type
        self.identifier = identifier
        self.parentSourcedId = parentSourcedId
        self.extensions = extensions
    }
}

/// An academic session (academicSessions.csv): school year, semester, term or grading period.
public struct AcademicSession: Sendable, Equatable, Codable {
    /// Unique, stable identifier.
    public var sourcedId: String
    /// Record status.
    public var status: RecordStatus
    /// When the record last changed.
    public var dateLastModified: Date?
    /// Display title.
    public var title: String
    /// Kind of session.
    public var type: SessionType
    /// First day.
    public var startDate: OneRosterDate
    /// End date (exclusive in 1.2 REST text).
    public var endDate: OneRosterDate
    /// The enclosing session (e.g. a term's school year).
    public var parentSourcedId: String?
    /// The year in which the school year ends, e.g. 2025 for 2024–25.
    public var schoolYear: Int
    /// Extra columns.
    public var extensions: [String: String]

    /// Creates an academic session.
    public init(sourcedId: String, status: RecordStatus = .active, dateLastModified: Date? = nil, title: String,
                type: SessionType, startDate: OneRosterDate, endDate: OneRosterDate, parentSourcedId: String? = nil,
                schoolYear: Int, extensions: [String: String] = [:]) {
        self.sourcedId = sourcedId
        self.status = status
        self.dateLastModified = dateLastModified
        self.title = title
        self.type = type
        self.startDate = startDate
        self.endDate = endDate
        self.parentSourcedId = parentSourcedId
        self.schoolYear = schoolYear
        self.extensions = extensions
    }
}

/// A course (courses.csv): the catalogue entry that classes are sections of.
public struct Course: Sendable, Equatable, Codable {
    /// Unique, stable identifier.
    public var sourcedId: String
    /// Record status.
    public var status: RecordStatus
    /// When the record last changed.
    public var dateLastModified: Date?
    /// The school-year academic session, if given.
    public var schoolYearSourcedId: String?
    /// Display title.
    public var title: String
    /// Course code.
    public var courseCode: String?
    /// Grade levels (CEDS codes such as `09`).
    public var grades: [String]
    /// The org offering the course.
    public var orgSourcedId: String
    /// Subject names.
    public var subjects: [String]
    /// Subject codes.
    public var subjectCodes: [String]
    /// Extra columns.
    public var extensions: [String: String]

    /// Creates a course.
    public init(sourcedId: String, status: RecordStatus = .active, dateLastModified: Date? = nil,
                schoolYearSourcedId: String? = nil, title: String, courseCode: String? = nil, grades: [String] = [],
                orgSourcedId: String, subjects: [String] = [], subjectCodes: [String] = [], extensions: [String: String] = [:]) {
        self.sourcedId = sourcedId
        self.status = status
        self.dateLastModified = dateLastModified
        self.schoolYearSourcedId = schoolYearSourcedId
        self.title = title
        self.courseCode = courseCode
        self.grades = grades
        self.orgSourcedId = orgSourcedId
        self.subjects = subjects
        self.subjectCodes = subjectCodes
        self.extensions = extensions
    }
}

/// A class (classes.csv): a section of a course taught at a school in one or more terms.
public struct RosterClass: Sendable, Equatable, Codable {
    /// Unique, stable identifier.
    public var sourcedId: String
    /// Record status.
    public var status: RecordStatus
    /// When the record last changed.
    public var dateLastModified: Date?
    /// Display title.
    public var title: String
    /// Grade levels.
    public var grades: [String]
    /// The course this class is a section of.
    public var courseSourcedId: String
    /// Class code.
    public var classCode: String?
    /// Homeroom or scheduled.
    public var classType: ClassType
    /// Room or place.
    public var location: String?
    /// The school.
    public var schoolSourcedId: String
    /// The academic sessions (terms) the class runs in; at least one.
    public var termSourcedIds: [String]
    /// Subject names.
    public var subjects: [String]
    /// Subject codes.
    public var subjectCodes: [String]
    /// Periods.
    public var periods: [String]
    /// Extra columns.
    public var extensions: [String: String]

    /// Creates a class.
    public init(sourcedId: String, status: RecordStatus = .active, dateLastModified: Date? = nil, title: String,
                grades: [String] = [], courseSourcedId: String, classCode: String? = nil, classType: ClassType,
                location: String? = nil, schoolSourcedId: String, termSourcedIds: [String], subjects: [String] = [],
                subjectCodes: [String] = [], periods: [String] = [], extensions: [String: String] = [:]) {
        self.sourcedId = sourcedId
        self.status = status
        self.dateLastModified = dateLastModified
        self.title = title
        self.grades = grades
        self.courseSourcedId = courseSourcedId
        self.classCode = classCode
        self.classType = classType
        self.location = location
        self.schoolSourcedId = schoolSourcedId
        self.termSourcedIds = termSourcedIds
        self.subjects = subjects
        self.subjectCodes = subjectCodes
        self.periods = periods
        self.extensions = extensions
    }
}

/// One `{type:identifier}` item of users.csv `userIds`, e.g. `{LDAP:12}`.
public struct UserIdentifier: Sendable, Equatable, Hashable, Codable {
    /// The identifier system, e.g. `LDAP`.
    public var type: String
    /// The identifier in that system.
    public var identifier: String

    /// Creates an identifier.
    public init(type: String, identifier: String) {
        self.type = type
        self.identifier = identifier
    }

    /// Parses `{type:identifier}` (braces optional).
    public init?(_ text: String) {
        var t = Substring(text)
        if t.hasPrefix("{") && t.hasSuffix("}") { t = t.dropFirst().dropLast() }
        let s = String(t)
        guard let colon = s.firstIndex(of: ":"),
              let type = trimmedItem(s, s.startIndex, colon),
              let id = trimmedItem(s, s.index(after: colon), s.endIndex) else { return nil }
        self.type = type
        self.identifier = id
    }

    /// `{type:identifier}`.
    public var csvText: String { "{\(type):\(identifier)}" }
}

/// A role a user holds at an org.
///
/// In 1.2 these are the rows of roles.csv. In 1.1 the reader derives them from users.csv `role` and
/// `orgSourcedIds` (one role per org, the first org primary); such derived roles have no `sourcedId`.
public struct RoleAssignment: Sendable, Equatable, Codable {
    /// The roles.csv row's identifier; `nil` for roles derived from 1.1 users.csv.
    public var sourcedId: String?
    /// Record status.
    public var status: RecordStatus
    /// When the record last changed.
    public var dateLastModified: Date?
    /// The user holding the role.
    public var userSourcedId: String
    /// Primary or secondary.
    public var roleType: RoleType
    /// The role.
    public var role: UserRole
    /// First day of the role, if limited.
    public var beginDate: OneRosterDate?
    /// End of the role (exclusive), if limited.
    public var endDate: OneRosterDate?
    /// The org at which the role is held.
    public var orgSourcedId: String
    /// The user profile the role uses (1.2), if any.
    public var userProfileSourcedId: String?
    /// Extra columns.
    public var extensions: [String: String]

    /// Creates a role.
    public init(sourcedId: String? = nil, status: RecordStatus = .active, dateLastModified: Date? = nil,
                userSourcedId: String, roleType: RoleType, role: UserRole, beginDate: OneRosterDate? = nil,
                endDate: OneRosterDate? = nil, orgSourcedId: String, userProfileSourcedId: String? = nil,
                extensions: [String: String] = [:]) {
        self.sourcedId = sourcedId
        self.status = status
        self.dateLastModified = dateLastModified
        self.userSourcedId = userSourcedId
        self.roleType = roleType
        self.role = role
        self.beginDate = beginDate
        self.endDate = endDate
        self.orgSourcedId = orgSourcedId
        self.userProfileSourcedId = userProfileSourcedId
        self.extensions = extensions
    }
}

/// A user (users.csv): student, teacher, administrator, guardian...
public struct User: Sendable, Equatable, Codable {
    /// Unique, stable identifier.
    public var sourcedId: String
    /// Record status.
    public var status: RecordStatus
    /// When the record last changed.
    public var dateLastModified: Date?
    /// Whether the account may sign in.
    public var enabledUser: Bool
    /// Login name (required in 1.1; may be `nil` in 1.2).
    public var username: String?
    /// External identifiers (`{type:id}` list).
    public var userIds: [UserIdentifier]
    /// Given (first) name.
    public var givenName: String
    /// Family (last) name.
    public var familyName: String
    /// Middle name.
    public var middleName: String?
    /// District identifier such as a student number.
    public var identifier: String?
    /// Email address.
    public var email: String?
    /// SMS number.
    public var sms: String?
    /// Phone number.
    public var phone: String?
    /// Related users (parents, guardians...).
    public var agentSourcedIds: [String]
    /// Grade levels.
    public var grades: [String]
    /// Password (usually blank).
    public var password: String?
    /// The main role: users.csv `role` in 1.1, the primary role from roles.csv in 1.2.
    public var role: UserRole?
    /// Orgs of the user: users.csv `orgSourcedIds` in 1.1, the distinct orgs of the roles in 1.2.
    public var orgSourcedIds: [String]
    /// All roles of the user (1.2: roles.csv rows for this user; 1.1: derived from `role` and `orgSourcedIds`).
    public var roles: [RoleAssignment]
    /// 1.2: master identifier across systems.
    public var userMasterIdentifier: String?
    /// 1.2: preferred given name.
    public var preferredGivenName: String?
    /// 1.2: preferred middle name.
    public var preferredMiddleName: String?
    /// 1.2: preferred family name.
    public var preferredFamilyName: String?
    /// 1.2: primary org.
    public var primaryOrgSourcedId: String?
    /// 1.2: pronouns.
    public var pronouns: String?
    /// Extra columns.
    public var extensions: [String: String]

    /// Creates a user.
    public init(sourcedId: String, status: RecordStatus = .active, dateLastModified: Date? = nil, enabledUser: Bool = true,
                username: String? = nil, userIds: [UserIdentifier] = [], givenName: String, familyName: String,
                middleName: String? = nil, identifier: String? = nil, email: String? = nil, sms: String? = nil,
                phone: String? = nil, agentSourcedIds: [String] = [], grades: [String] = [], password: String? = nil,
                role: UserRole? = nil, orgSourcedIds: [String] = [], roles: [RoleAssignment] = [], userMasterIdentifier: String? = nil,
                preferredGivenName: String? = nil, preferredMiddleName: String? = nil, preferredFamilyName: String? = nil,
                primaryOrgSourcedId: String? = nil, pronouns: String? = nil, extensions: [String: String] = [:]) {
        self.sourcedId = sourcedId
        self.status = status
        self.dateLastModified = dateLastModified
        self.enabledUser = enabledUser
        self.username = username
        self.userIds = userIds
        self.givenName = givenName
        self.familyName = familyName
        self.middleName = middleName
        self.identifier = identifier
        self.email = email
        self.sms = sms
        self.phone = phone
        self.agentSourcedIds = agentSourcedIds
        self.grades = grades
        self.password = password
        self.role = role
        self.orgSourcedIds = orgSourcedIds
        self.roles = roles
        self.userMasterIdentifier = userMasterIdentifier
        self.preferredGivenName = preferredGivenName
        self.preferredMiddleName = preferredMiddleName
        self.preferredFamilyName = preferredFamilyName
        self.primaryOrgSourcedId = primaryOrgSourcedId
        self.pronouns = pronouns
        self.extensions = extensions
    }
}

/// A 1.2 user profile (userProfiles.csv): an account of a user in a vendor's application.
public struct UserProfile: Sendable, Equatable, Codable {
    /// Unique identifier.
    public var sourcedId: String
    /// Record status.
    public var status: RecordStatus
    /// When the record last changed.
    public var dateLastModified: Date?
    /// The user.
    public var userSourcedId: String
    /// Kind of profile.
    public var profileType: String
    /// The vendor.
    public var vendorId: String
    /// The application.
    public var applicationId: String?
    /// Description.
    public var description: String?
    /// Credential type.
    public var credentialType: String?
    /// Login name in the application.
    public var username: String?
    /// Password in the application.
    public var password: String?
    /// Extra columns.
    public var extensions: [String: String]

    /// Creates a user profile.
    public init(sourcedId: String, status: RecordStatus = .active, dateLastModified: Date? = nil, userSourcedId: String,
                profileType: String, vendorId: String, applicationId: String? = nil, description: String? = nil,
                credentialType: String? = nil, username: String? = nil, password: String? = nil,
                extensions: [String: String] = [:]) {
        self.sourcedId = sourcedId
        self.status = status
        self.dateLastModified = dateLastModified
        self.userSourcedId = userSourcedId
        self.profileType = profileType
        self.vendorId = vendorId
        self.applicationId = applicationId
        self.description = description
        self.credentialType = credentialType
        self.username = username
        self.password = password
        self.extensions = extensions
    }
}

/// An enrollment (enrollments.csv): a user in a class with a role.
///
/// Kept small (four strings plus a few bytes) because bundles can hold millions of them.
public struct Enrollment: Sendable, Equatable, Codable {
    /// Unique, stable identifier.
    public var sourcedId: String
    /// Record status.
    public var status: RecordStatus
    /// When the record last changed.
    public var dateLastModified: Date?
    /// The class.
    public var classSourcedId: String
    /// The school of the class.
    public var schoolSourcedId: String
    /// The user.
    public var userSourcedId: String
    /// The user's role in the class.
    public var role: EnrollmentRole
    /// Whether a teacher is the class's primary teacher.
    public var primary: Bool?
    /// First day of the enrollment.
    public var beginDate: OneRosterDate?
    /// End of the enrollment (exclusive).
    public var endDate: OneRosterDate?
    /// Extra columns.
    public var extensions: [String: String]

    /// Creates an enrollment.
    public init(sourcedId: String, status: RecordStatus = .active, dateLastModified: Date? = nil, classSourcedId: String,
                schoolSourcedId: String, userSourcedId: String, role: EnrollmentRole, primary: Bool? = nil,
                beginDate: OneRosterDate? = nil, endDate: OneRosterDate? = nil, extensions: [String: String] = [:]) {
        self.sourcedId = sourcedId
        self.status = status
        self.dateLastModified = dateLastModified
        self.classSourcedId = classSourcedId
        self.schoolSourcedId = schoolSourcedId
        self.userSourcedId = userSourcedId
        self.role = role
        self.primary = primary
        self.beginDate = beginDate
        self.endDate = endDate
        self.extensions = extensions
    }
}

/// Demographic data of a user (demographics.csv); `sourcedId` is the user's sourcedId.
public struct Demographics: Sendable, Equatable, Codable {
    /// The user's sourcedId.
    public var sourcedId: String
    /// Record status.
    public var status: RecordStatus
    /// When the record last changed.
    public var dateLastModified: Date?
    /// Date of birth.
    public var birthDate: OneRosterDate?
    /// Sex.
    public var sex: Gender?
    /// Race flag.
    public var americanIndianOrAlaskaNative: Bool?
    /// Race flag.
    public var asian: Bool?
    /// Race flag.
    public var blackOrAfricanAmerican: Bool?
    /// Race flag.
    public var nativeHawaiianOrOtherPacificIslander: Bool?
    /// Race flag.
    public var white: Bool?
    /// Race flag.
    public var demographicRaceTwoOrMoreRaces: Bool?
    /// Ethnicity flag.
    public var hispanicOrLatinoEthnicity: Bool?
    /// Country of birth code.
    public var countryOfBirthCode: String?
    /// State of birth.
    public var stateOfBirthAbbreviation: String?
    /// City of birth.
    public var cityOfBirth: String?
    /// Public school residence status code.
    public var publicSchoolResidenceStatus: String?
    /// Extra columns.
    public var extensions: [String: String]

    /// Creates demographics.
    public init(sourcedId: String, status: RecordStatus = .active, dateLastModified: Date? = nil, birthDate: OneRosterDate? = nil,
                sex: Gender? = nil, americanIndianOrAlaskaNative: Bool? = nil, asian: Bool? = nil,
                blackOrAfricanAmerican: Bool? = nil, nativeHawaiianOrOtherPacificIslander: Bool? = nil, white: Bool? = nil,
                demographicRaceTwoOrMoreRaces: Bool? = nil, hispanicOrLatinoEthnicity: Bool? = nil,
                countryOfBirthCode: String? = nil, stateOfBirthAbbreviation: String? = nil, cityOfBirth: String? = nil,
                publicSchoolResidenceStatus: String? = nil, extensions: [String: String] = [:]) {
        self.sourcedId = sourcedId
        self.status = status
        self.dateLastModified = dateLastModified
        self.birthDate = birthDate
        self.sex = sex
        self.americanIndianOrAlaskaNative = americanIndianOrAlaskaNative
        self.asian = asian
        self.blackOrAfricanAmerican = blackOrAfricanAmerican
        self.nativeHawaiianOrOtherPacificIslander = nativeHawaiianOrOtherPacificIslander
        self.white = white
        self.demographicRaceTwoOrMoreRaces = demographicRaceTwoOrMoreRaces
        self.hispanicOrLatinoEthnicity = hispanicOrLatinoEthnicity
        self.countryOfBirthCode = countryOfBirthCode
        self.stateOfBirthAbbreviation = stateOfBirthAbbreviation
        self.cityOfBirth = cityOfBirth
        self.publicSchoolResidenceStatus = publicSchoolResidenceStatus
        self.extensions = extensions
    }
}

/// Any one record, as handed to a streaming visitor.
public enum OneRosterRecord: Sendable, Equatable {
    /// An orgs.csv row.
    case org(Org)
    /// An academicSessions.csv row.
    indirect case academicSession(AcademicSession)
    /// A courses.csv row.
    indirect case course(Course)
    /// A classes.csv row.
    indirect case rosterClass(RosterClass)
    /// A users.csv row (with its roles attached).
    indirect case user(User)
    /// A 1.2 roles.csv row.
    case role(RoleAssignment)
    /// A 1.2 userProfiles.csv row.
    indirect case userProfile(UserProfile)
    /// A demographics.csv row.
    indirect case demographics(Demographics)
    /// An enrollments.csv row.
    case enrollment(Enrollment)
}
