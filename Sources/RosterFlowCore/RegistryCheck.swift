import Foundation
import StorageCore

/// How an integration request compares with the customer registry: the tenant id finds the registry record, and the
/// district name and the contact's e-mail domain must match it; no other open integration may exist for the tenant.
///
/// A request that differs is not authenticated silently: it is held for the vendor admin (`needs_review`), who sees
/// both records side by side and confirms or rejects it.
public struct RegistryComparison: Sendable, Codable, Equatable {
    /// The fields that identify a district, as the request or the registry gives them.
    public struct Party: Sendable, Codable, Equatable {
        public var tenantID: String
        public var district: String
        public var contactEmail: String
    }

    /// Another integration of the same tenant that is still open (neither rejected nor disabled).
    public struct OpenIntegration: Sendable, Codable, Equatable {
        public var id: String
        public var district: String
        public var state: String
    }

    /// What the district sent through ClassLink.
    public var request: Party
    /// The customer registry's record of the tenant; nil when the tenant is not a customer.
    public var registry: Party?
    /// Each difference in plain words; empty when the request matches its registry record.
    public var differences: [String]
    /// The tenant's other open integrations.
    public var openIntegrations: [OpenIntegration]

    /// True when the tenant is a customer, the district and contact domain match, and no other integration is open.
    public var matches: Bool { registry != nil && differences.isEmpty && openIntegrations.isEmpty }

    /// Everything that stops a direct authentication, in plain words (empty when it ``matches``).
    public var problems: [String] {
        guard registry != nil else {
            return ["tenant '\(request.tenantID)' (\(request.district)) is not in the customer registry"]
        }
        guard !openIntegrations.isEmpty else { return differences }
        let count = openIntegrations.count
        return differences + ["tenant '\(request.tenantID)' already has \(count == 1 ? "an" : "\(count)") open integration"
            + (count == 1 ? "" : "s") + ": "
            + openIntegrations.map { "\($0.id) (\($0.district), \($0.state))" }.joined(separator: ", ")]
    }

    /// The request and the registry record side by side, then the tenant's other open integrations.
    public var sideBySide: String {
        let rows: [(String, String, String)] = [
            ("tenant", request.tenantID, registry?.tenantID ?? "(not a customer)"),
            ("district", request.district, registry?.district ?? "-"),
            ("contact", request.contactEmail, registry?.contactEmail ?? "-"),
        ]
        let width = max(7, rows.map(\.1.count).max() ?? 0) + 2
        var lines = ["            " + "request".padding(toLength: width, withPad: " ", startingAt: 0) + "registry"]
        for (label, left, right) in rows {
            lines.append("  " + label.padding(toLength: 10, withPad: " ", startingAt: 0)
                + left.padding(toLength: width, withPad: " ", startingAt: 0) + right)
        }
        for problem in problems { lines.append("  ! " + problem) }
        return lines.joined(separator: "\n")
    }

    /// Integration states in which an integration no longer counts as open (the integration workflow has no final
    /// state: a rejected request can be reconsidered and a disabled one re-enabled, and each is then checked again).
    static let closedStates: Set<String> = [DomainVocabulary.Integration.State.rejected, DomainVocabulary.Integration.State.disabled]

    /// Compares an integration's request with the registry, in the caller's transaction.
    static func compare(_ integration: IntegrationRecord, tx: any StoreTransaction) throws -> RegistryComparison {
        let request = Party(tenantID: integration.tenantID, district: integration.district, contactEmail: integration.contactEmail)
        guard let customer = try tx.customer(tenantID: integration.tenantID) else {
            return RegistryComparison(request: request, registry: nil, differences: [], openIntegrations: [])
        }
        let registry = Party(tenantID: customer.tenantID, district: customer.district, contactEmail: customer.contactEmail)
        var differences: [String] = []
        if DistrictName.normalised(request.district) != DistrictName.normalised(registry.district) {
            differences.append("the district is '\(request.district)' in the request but '\(registry.district)' in the registry")
        }
        let requestDomain = EmailDomain.of(request.contactEmail), registryDomain = EmailDomain.of(registry.contactEmail)
        if !EmailDomain.sameOrganisation(requestDomain, registryDomain) {
            differences.append("the contact's e-mail domain is '\(requestDomain)' in the request but '\(registryDomain)' in the registry")
        }
        var open: [OpenIntegration] = []
        for (other, state) in try tx.integrations(tenantID: integration.tenantID)
        where other.id != integration.id && !closedStates.contains(state) {
            open.append(OpenIntegration(id: other.id, district: other.district, state: state))
        }
        return RegistryComparison(request: request, registry: registry, differences: differences, openIntegrations: open)
    }
}

/// District names as the registry compares them: the same district is often written "Springfield USD", "Springfield
/// Unified School District" or "springfield usd.".
enum DistrictName {
    /// Trailing words that say what kind of district it is, not which one; dropped (repeatedly) before comparing.
    static let suffixes: [[String]] = [
        ["school", "district"], ["public", "schools"], ["schools"], ["district"], ["usd"], ["isd"], ["cusd"], ["sd"],
        ["unified"], ["independent"], ["consolidated"],
    ]

    /// Lower case without accents, `&` read as `and`, periods and apostrophes dropped, other punctuation and extra
    /// spaces read as one space, a leading "the" and the trailing district-type words (``suffixes``) dropped; never
    /// empty when the name is not.
    static func normalised(_ name: String) -> String {
        let folded = name.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "en_US_POSIX"))
            .replacingOccurrences(of: "&", with: " and ")
            // Abbreviations and names keep their letters together: U.S.D. is usd, O'Brien is obrien.
            .filter { !".'’".contains($0) }
        let wordsOnly = String(folded.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? Character($0) : " " })
        var words = wordsOnly.split(separator: " ").map(String.init)
        if words.count > 1, words.first == "the" { words.removeFirst() }
        var dropped = true
        while dropped {
            dropped = false
            for suffix in suffixes where words.count > suffix.count && Array(words.suffix(suffix.count)) == suffix {
                words.removeLast(suffix.count)
                dropped = true
            }
        }
        return words.joined(separator: " ")
    }
}

/// E-mail domains as the registry compares them.
enum EmailDomain {
    /// The part after the last `@`, lower case, without a trailing dot.
    static func of(_ address: String) -> String {
        let domain = address.split(separator: "@").last.map(String.init) ?? address
        return domain.trimmingCharacters(in: .whitespaces).lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    /// The same domain, or one a subdomain of the other (`it.springfield.k12.us` and `springfield.k12.us`).
    static func sameOrganisation(_ a: String, _ b: String) -> Bool {
        a == b || a.hasSuffix("." + b) || b.hasSuffix("." + a)
    }
}
