import WorkflowEngine

/// The workflow, state and event names the Swift code relies on, declared once.
///
/// The YAML in `Workflows/` owns the workflows, but the code sends some of their events (a sync holds an integration
/// with `hold`, the first course shell sends `shells_created`) and decides by some of their states (`on_hold`,
/// `live`, `locked`). Each such name is declared here, with what relies on it, and ``DomainRules/validator`` refuses
/// a definition that lacks one — `workflows validate` names it — instead of letting the rename break syncs later.
public enum DomainVocabulary {
    /// The integration workflow.
    public enum Integration {
        /// The workflow's name.
        public static let workflow = "integration"

        /// States of the integration workflow the code decides by.
        public enum State {
            public static let requested = "requested"
            /// Not required: definitions before version 4 have no review state (see ``RosterFlowService/authenticate``).
            public static let needsReview = "needs_review"
            public static let scheduled = "scheduled"
            public static let shellsCreated = "shells_created"
            public static let contentMapped = "content_mapped"
            public static let live = "live"
            public static let onHold = "on_hold"
            /// Paused until a date (the summer break): nightly syncs are skipped without alerts.
            public static let paused = "paused"
            public static let rejected = "rejected"
            public static let disabled = "disabled"
        }

        /// Events of the integration workflow the code sends.
        public enum Event {
            public static let authenticate = "authenticate"
            public static let confirmCustomer = "confirm_customer"
            public static let shellsCreated = "shells_created"
            public static let allContentMapped = "all_content_mapped"
            public static let hold = "hold"
            public static let resume = "resume"
            public static let pause = "pause"
            /// Sent when a course with content is re-mapped (integration version 7; optional in a definition).
            public static let contentWithdrawn = "content_withdrawn"
            /// The district switched the app off in ClassLink (the `app-disabled` hook).
            public static let disable = "disable"
        }

        /// What a definition of this workflow must define.
        static let required = WorkflowValidator.RequiredNames(
            states: [
                (State.requested, "the registry check is shown for requests"),
                (State.scheduled, "the first course shell moves a scheduled integration on"),
                (State.shellsCreated, "syncs and new courses are accepted there; content completion moves it on"),
                (State.contentMapped, "syncs are accepted there; courses added then are announced"),
                (State.live, "syncs are accepted there; courses added then are announced"),
                (State.onHold, "a held sync parks the integration there until it is approved or rejected"),
                (State.paused, "nightly syncs of a paused integration are skipped without missed-sync alerts"),
                (State.rejected, "a rejected request is a closed integration"),
                (State.disabled, "a disabled integration is closed"),
            ],
            events: [
                (Event.authenticate, "`integrations authenticate` sends it"),
                (Event.shellsCreated, "the first course shell sends it"),
                (Event.allContentMapped, "the last course with content sends it"),
                (Event.hold, "a sync that needs review sends it"),
                (Event.resume, "approving or rejecting a held sync sends it; `integrations resume` and the end of a pause send it"),
                (Event.pause, "`integrations pause` sends it"),
                (Event.disable, "the app-disabled hook sends it"),
            ])
    }

    /// The course-mapping workflow.
    public enum CourseMapping {
        /// The workflow's name.
        public static let workflow = "course-mapping"

        /// States of the course-mapping workflow the code decides by.
        public enum State {
            public static let mapped = "mapped"
            public static let verified = "verified"
            public static let contentAdded = "content_added"
            public static let locked = "locked"
        }

        /// Events of the course-mapping workflow the code sends.
        public enum Event {
            public static let studentStarted = "student_started"
        }

        /// What a definition of this workflow must define.
        static let required = WorkflowValidator.RequiredNames(
            states: [
                (State.mapped, "the school's daily digest lists the courses there as awaiting its verification"),
                (State.verified, "the DSP's daily digest lists the courses there as awaiting content"),
                (State.contentAdded, "a course there counts as having content"),
                (State.locked, "a started course is locked: it counts as having content and is kept when the SIS drops it"),
            ],
            events: [(Event.studentStarted, "`courses student-started` sends it")])
    }

    /// The names each workflow must define, for ``DomainRules/validator``.
    static let required: [String: WorkflowValidator.RequiredNames] = [
        Integration.workflow: Integration.required,
        CourseMapping.workflow: CourseMapping.required,
    ]
}
