/// A column name known to the reader (the union of all rostering files' columns).
enum Col: Int, CaseIterable {
    case sourcedId
    case `status`
    case dateLastModified
    case `name`
    case `type`
    case identifier
    case parentSourcedId
    case title
    case startDate
    case endDate
    case schoolYear
    case schoolYearSourcedId
    case courseCode
    case grades
    case orgSourcedId
    case subjects
    case subjectCodes
    case courseSourcedId
    case classCode
    case classType
    case location
    case schoolSourcedId
    case termSourcedIds
    case periods
    case enabledUser
    case orgSourcedIds
    case `role`
    case username
    case userIds
    case givenName
    case familyName
    case middleName
    case email
    case sms
    case phone
    case agentSourcedIds
    case password
    case userMasterIdentifier
    case preferredGivenName
    case preferredMiddleName
    case preferredFamilyName
    case primaryOrgSourcedId
    case pronouns
    case userSourcedId
    case roleType
    case beginDate
    case userProfileSourcedId
    case profileType
    case vendorId
    case applicationId
    case `description`
    case credentialType
    case birthDate
    case sex
    case americanIndianOrAlaskaNative
    case asian
    case blackOrAfricanAmerican
    case nativeHawaiianOrOtherPacificIslander
    case white
    case demographicRaceTwoOrMoreRaces
    case hispanicOrLatinoEthnicity
    case countryOfBirthCode
    case stateOfBirthAbbreviation
    case cityOfBirth
    case publicSchoolResidenceStatus
    case classSourcedId
    case `primary`

    /// The header name.
    var name: String { Col.names[rawValue] }
    static let names: [String] = allCases.map { String(describing: $0) }
    static let byName: [String: Col] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })
}
