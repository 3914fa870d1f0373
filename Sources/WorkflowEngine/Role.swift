/// Who sends an event. Every event in a workflow names the roles allowed to send it.
///
/// - `vendorAdmin`: the learning-platform vendor's administrators, who advance integrations.
/// - `dsp`: the District Success Partner, who maps content.
/// - `schoolAdmin`: the school's or district's administrator, who answers requests and verifies mappings.
/// - `system`: RosterFlow itself (syncs, timers, automatic moves) and the learning platform.
public enum Role: String, Sendable, Codable, CaseIterable, Hashable, Comparable {
    case vendorAdmin = "vendor_admin"
    case dsp
    case schoolAdmin = "school_admin"
    case system

    /// A label for people: "vendor admin", "DSP", "school admin", "system".
    public var displayName: String {
        switch self {
        case .vendorAdmin: "vendor admin"
        case .dsp: "DSP"
        case .schoolAdmin: "school admin"
        case .system: "system"
        }
    }

    /// Orders roles as they are declared: vendor admin, DSP, school admin, system.
    public static func < (lhs: Role, rhs: Role) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Accepts the YAML spelling (`school_admin`) and the CLI spelling (`school-admin`).
    public init?(parsing text: String) {
        self.init(rawValue: text.replacingOccurrences(of: "-", with: "_").lowercased())
    }
}
