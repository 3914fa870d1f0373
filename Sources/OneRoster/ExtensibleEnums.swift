// Generated enumerations that allow `ext:` extension tokens (1EdTech OneRoster 1.2 OpenAPI pattern `(ext:)[a-zA-Z0-9.\-_]+`).

/// The type of an organization (orgs.csv `type`).
///
/// Values starting with `ext:` are vendor extensions and decode to ``ext(_:)`` holding the part after `ext:`.
public enum OrgType: OneRosterEnumeration {
    /// `department`
    case department
    /// `school`
    case school
    /// `district`
    case district
    /// `local`
    case local
    /// `state`
    case state
    /// `national`
    case national
    /// A vendor extension token `ext:<token>`; the associated value is `<token>`.
    case ext(String)

    /// The standard values (without extensions).
    public static let allCases: [OrgType] = [.department, .school, .district, .local, .state, .national]

    /// The CSV text of the value.
    public var rawValue: String {
        switch self {
        case .department: return "department"
        case .school: return "school"
        case .district: return "district"
        case .local: return "local"
        case .state: return "state"
        case .national: return "national"
        case .ext(let token): return "ext:" + token
        }
    }

    /// Parses the exact (case-sensitive) CSV text; `ext:<token>` gives ``ext(_:)``.
    public init?(rawValue: String) {
        switch rawValue {
        case "department": self = .department
        case "school": self = .school
        case "district": self = .district
        case "local": self = .local
        case "state": self = .state
        case "national": self = .national
        default:
            guard let token = extensionToken(rawValue) else { return nil }
            self = .ext(token)
        }
    }
}

/// The type of an academic session (academicSessions.csv `type`).
///
/// Values starting with `ext:` are vendor extensions and decode to ``ext(_:)`` holding the part after `ext:`.
public enum SessionType: OneRosterEnumeration {
    /// `gradingPeriod`
    case gradingPeriod
    /// `semester`
    case semester
    /// `schoolYear`
    case schoolYear
    /// `term`
    case term
    /// A vendor extension token `ext:<token>`; the associated value is `<token>`.
    case ext(String)

    /// The standard values (without extensions).
    public static let allCases: [SessionType] = [.gradingPeriod, .semester, .schoolYear, .term]

    /// The CSV text of the value.
    public var rawValue: String {
        switch self {
        case .gradingPeriod: return "gradingPeriod"
        case .semester: return "semester"
        case .schoolYear: return "schoolYear"
        case .term: return "term"
        case .ext(let token): return "ext:" + token
        }
    }

    /// Parses the exact (case-sensitive) CSV text; `ext:<token>` gives ``ext(_:)``.
    public init?(rawValue: String) {
        switch rawValue {
        case "gradingPeriod": self = .gradingPeriod
        case "semester": self = .semester
        case "schoolYear": self = .schoolYear
        case "term": self = .term
        default:
            guard let token = extensionToken(rawValue) else { return nil }
            self = .ext(token)
        }
    }
}

/// The type of a class (classes.csv `classType`).
///
/// Values starting with `ext:` are vendor extensions and decode to ``ext(_:)`` holding the part after `ext:`.
public enum ClassType: OneRosterEnumeration {
    /// `homeroom`
    case homeroom
    /// `scheduled`
    case scheduled
    /// A vendor extension token `ext:<token>`; the associated value is `<token>`.
    case ext(String)

    /// The standard values (without extensions).
    public static let allCases: [ClassType] = [.homeroom, .scheduled]

    /// The CSV text of the value.
    public var rawValue: String {
        switch self {
        case .homeroom: return "homeroom"
        case .scheduled: return "scheduled"
        case .ext(let token): return "ext:" + token
        }
    }

    /// Parses the exact (case-sensitive) CSV text; `ext:<token>` gives ``ext(_:)``.
    public init?(rawValue: String) {
        switch rawValue {
        case "homeroom": self = .homeroom
        case "scheduled": self = .scheduled
        default:
            guard let token = extensionToken(rawValue) else { return nil }
            self = .ext(token)
        }
    }
}

/// A user's role: 1.1 users.csv `role` (administrator, aide, guardian, parent, proctor, relative, student, teacher) or 1.2 roles.csv `role` (administrator split into district/site/system administrator; counselor and principal added).
///
/// Values starting with `ext:` are vendor extensions and decode to ``ext(_:)`` holding the part after `ext:`.
public enum UserRole: OneRosterEnumeration {
    /// `administrator`
    case administrator
    /// `aide`
    case aide
    /// `counselor`
    case counselor
    /// `districtAdministrator`
    case districtAdministrator
    /// `guardian`
    case guardian
    /// `parent`
    case parent
    /// `principal`
    case principal
    /// `proctor`
    case proctor
    /// `relative`
    case relative
    /// `siteAdministrator`
    case siteAdministrator
    /// `student`
    case student
    /// `systemAdministrator`
    case systemAdministrator
    /// `teacher`
    case teacher
    /// A vendor extension token `ext:<token>`; the associated value is `<token>`.
    case ext(String)

    /// The standard values (without extensions).
    public static let allCases: [UserRole] = [.administrator, .aide, .counselor, .districtAdministrator, .guardian, .parent, .principal, .proctor, .relative, .siteAdministrator, .student, .systemAdministrator, .teacher]

    /// The CSV text of the value.
    public var rawValue: String {
        switch self {
        case .administrator: return "administrator"
        case .aide: return "aide"
        case .counselor: return "counselor"
        case .districtAdministrator: return "districtAdministrator"
        case .guardian: return "guardian"
        case .parent: return "parent"
        case .principal: return "principal"
        case .proctor: return "proctor"
        case .relative: return "relative"
        case .siteAdministrator: return "siteAdministrator"
        case .student: return "student"
        case .systemAdministrator: return "systemAdministrator"
        case .teacher: return "teacher"
        case .ext(let token): return "ext:" + token
        }
    }

    /// Parses the exact (case-sensitive) CSV text; `ext:<token>` gives ``ext(_:)``.
    public init?(rawValue: String) {
        switch rawValue {
        case "administrator": self = .administrator
        case "aide": self = .aide
        case "counselor": self = .counselor
        case "districtAdministrator": self = .districtAdministrator
        case "guardian": self = .guardian
        case "parent": self = .parent
        case "principal": self = .principal
        case "proctor": self = .proctor
        case "relative": self = .relative
        case "siteAdministrator": self = .siteAdministrator
        case "student": self = .student
        case "systemAdministrator": self = .systemAdministrator
        case "teacher": self = .teacher
        default:
            guard let token = extensionToken(rawValue) else { return nil }
            self = .ext(token)
        }
    }
}

/// Demographic sex (demographics.csv `sex`): `male`, `female`; 1.2 adds `unspecified` and `other`.
///
/// Values starting with `ext:` are vendor extensions and decode to ``ext(_:)`` holding the part after `ext:`.
public enum Gender: OneRosterEnumeration {
    /// `male`
    case male
    /// `female`
    case female
    /// `unspecified`
    case unspecified
    /// `other`
    case other
    /// A vendor extension token `ext:<token>`; the associated value is `<token>`.
    case ext(String)

    /// The standard values (without extensions).
    public static let allCases: [Gender] = [.male, .female, .unspecified, .other]

    /// The CSV text of the value.
    public var rawValue: String {
        switch self {
        case .male: return "male"
        case .female: return "female"
        case .unspecified: return "unspecified"
        case .other: return "other"
        case .ext(let token): return "ext:" + token
        }
    }

    /// Parses the exact (case-sensitive) CSV text; `ext:<token>` gives ``ext(_:)``.
    public init?(rawValue: String) {
        switch rawValue {
        case "male": self = .male
        case "female": self = .female
        case "unspecified": self = .unspecified
        case "other": self = .other
        default:
            guard let token = extensionToken(rawValue) else { return nil }
            self = .ext(token)
        }
    }
}
