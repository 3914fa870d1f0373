import StorageCore

extension PGTransaction {
    /// The integrations whose enrollments are found by class and by user: on-demand mode, or Sign in with ClassLink set
    /// up (the SQL of a set of `integration_id`s).
    static let enrollmentsKeptSQL = """
        SELECT integration_id FROM provisioning_modes WHERE mode = 'on-demand' UNION SELECT integration_id FROM sign_in_providers
        """

    /// Whether the integration's partition keeps enrollment indexes by class and by user (migration
    /// `v13-enrollment-lookups-where-used`).
    func keepsEnrollmentLookups(integrationID: String) throws -> Bool {
        try query("SELECT EXISTS (SELECT 1 FROM (\(Self.enrollmentsKeptSQL)) kept WHERE integration_id = $1)", integrationID)
            .bool(0, 0) == true
    }

    /// Gives the integration's partition (if it has one) its enrollment indexes when `kept`, or drops them.
    func keyEnrollments(integrationID: String, kept: Bool) throws {
        try execute("SELECT rosterflow_key_enrollments($1::text, $2::boolean)", integrationID, kept)
    }

    /// Runs `change` (which may change the mode or sign-in settings) and makes or drops the enrollment indexes when
    /// whether they are kept has changed.
    func keepingEnrollmentLookups(integrationID: String, _ change: () throws -> Void) throws {
        let before = try keepsEnrollmentLookups(integrationID: integrationID)
        try change()
        let after = try keepsEnrollmentLookups(integrationID: integrationID)
        if after != before { try keyEnrollments(integrationID: integrationID, kept: after) }
    }
}
