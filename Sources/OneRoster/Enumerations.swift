import Foundation

/// A OneRoster enumeration: a closed set of string values (some also allow `ext:` tokens).
///
/// Encodes to and decodes from its ``rawValue`` string.
public protocol OneRosterEnumeration: RawRepresentable, CaseIterable, Hashable, Sendable, Codable
where RawValue == String, AllCases == [Self] {}

extension OneRosterEnumeration {
    /// Decodes the raw string value.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = Self(rawValue: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown value \(s) for \(Self.self)")
        }
        self = v
    }

    /// Encodes the raw string value.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// The standard values joined for messages: `a, b or c`.
    static var valueList: String {
        let all = allCases.map { "`\($0.rawValue)`" }
        guard all.count > 1 else { return all.first ?? "" }
        return all.dropLast().joined(separator: ", ") + " or " + all.last!
    }
}

/// Returns the token of an `ext:` value if it matches `(ext:)[a-zA-Z0-9.\-_]+`.
func extensionToken(_ raw: String) -> String? {
    guard raw.hasPrefix("ext:") else { return nil }
    let token = raw.dropFirst(4)
    guard !token.isEmpty, token.utf8.allSatisfy({ b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x2D || b == 0x5F
    }) else { return nil }
    return String(token)
}

/// The `status` of a record. Blank (as bulk files should have it) reads as ``active``;
/// the legacy 1.0 value `inactive` reads as ``tobedeleted``.
public enum RecordStatus: String, OneRosterEnumeration {
    /// The record exists.
    case active
    /// The record should be deleted (explicit delete in delta files).
    case tobedeleted
}

/// The role of a user in a class (enrollments.csv `role`), the same in 1.1 and 1.2.
public enum EnrollmentRole: String, OneRosterEnumeration {
    /// `administrator`
    case administrator
    /// `proctor`
    case proctor
    /// `student`
    case student
    /// `teacher`
    case teacher
}

/// Whether a 1.2 role assignment is the user's primary role at the org (roles.csv `roleType`).
public enum RoleType: String, OneRosterEnumeration {
    /// The primary role (exactly one per user per org).
    case primary
    /// A secondary role.
    case secondary
}

/// OneRoster version of a bundle (manifest `oneroster.version`).
public enum OneRosterVersion: String, OneRosterEnumeration {
    /// OneRoster 1.1: roles live on users.csv (`role`, `orgSourcedIds`).
    case v1_1 = "1.1"
    /// OneRoster 1.2: roles live in roles.csv; userProfiles.csv added.
    case v1_2 = "1.2"
}

/// How a file is delivered in a bundle (manifest `file.<name>`).
public enum FileMode: String, OneRosterEnumeration {
    /// No information about the entity: existing data is left untouched.
    case absent
    /// The file is the complete current set of records.
    case bulk
    /// The file holds only changed records; `status` and `dateLastModified` are required.
    case delta
}

extension UserRole {
    /// Roles allowed in 1.1 users.csv.
    public static let version1_1: [UserRole] = [.administrator, .aide, .guardian, .parent, .proctor, .relative, .student, .teacher]
    /// Roles allowed in 1.2 roles.csv.
    public static let version1_2: [UserRole] = [
        .aide, .counselor, .districtAdministrator, .guardian, .parent, .principal, .proctor, .relative,
        .siteAdministrator, .student, .systemAdministrator, .teacher,
    ]

    /// Whether the value is allowed in the given version (extension tokens are allowed in both).
    public func isAllowed(in version: OneRosterVersion) -> Bool {
        if case .ext = self { return true }
        return (version == .v1_1 ? UserRole.version1_1 : UserRole.version1_2).contains(self)
    }
}

extension Gender {
    /// Whether the value is allowed in the given version (1.1 knows only `male` and `female`).
    public func isAllowed(in version: OneRosterVersion) -> Bool {
        switch self {
        case .male, .female, .ext: return true
        case .unspecified, .other: return version == .v1_2
        }
    }
}
