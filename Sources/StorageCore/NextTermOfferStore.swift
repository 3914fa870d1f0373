/// Term rollover for teachers: the offers of next term's classes made when a teacher's imported classes ended.
public protocol NextTermOfferStore {
    /// Records an offer unless one for the same integration, teacher and ended term exists: false then (nothing
    /// changes), so a teacher is told once.
    func insertNextTermOffer(_ offer: NextTermOfferRecord) throws -> Bool

    /// A teacher's offers in an integration, newest first.
    func nextTermOffers(integrationID: String, teacherSourcedID: String) throws -> [NextTermOfferRecord]

    /// Marks an offer `accepted` or `declined`, by whom and when.
    func decideNextTermOffer(integrationID: String, teacherSourcedID: String, endedTermSourcedID: String, status: String,
                             actor: String, at: Double) throws
}

/// Reads of the held roster by something other than the sourcedId (indexed, so that a sign-in or a class import does
/// not read the whole roster): users by login name or e-mail, enrollments by class or by user.
public protocol RosterLookupStore {
    /// Held users whose `username` is `username`.
    func rosterUsers(integrationID: String, username: String) throws -> [RosterRecord]

    /// Held users whose e-mail is `email`, compared without letter case (ASCII letters).
    func rosterUsers(integrationID: String, email: String) throws -> [RosterRecord]

    /// Held enrollments of one class (class `ref1`), in sourcedId order.
    func rosterEnrollments(integrationID: String, classSourcedID: String) throws -> [RosterRecord]

    /// Held enrollments of one user (user `ref2`), in sourcedId order.
    func rosterEnrollments(integrationID: String, userSourcedID: String) throws -> [RosterRecord]
}
