import Foundation
import RosterFlowCore
import WorkflowEngine

/// What the dashboard's pages show, built from the service's views and the workflow definitions (their state
/// descriptions, tasks and roles: the pages never keep a second list of who may do what).
enum DashboardViews {
    /// `go_live` → "Go live".
    static func label(_ event: String) -> String {
        let words = event.replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: "-", with: " ")
        return words.prefix(1).uppercased() + words.dropFirst()
    }

    /// "3 days", "5 hours", "12 minutes" since an ISO 8601 time.
    static func age(since iso: String, now: Date = Date()) -> String {
        guard let date = try? Date(iso, strategy: .iso8601) else { return "" }
        let seconds = max(0, now.timeIntervalSince(date))
        func plural(_ count: Int, _ unit: String) -> String { "\(count) \(unit)\(count == 1 ? "" : "s")" }
        if seconds >= 86_400 { return plural(Int(seconds / 86_400), "day") }
        if seconds >= 3_600 { return plural(Int(seconds / 3_600), "hour") }
        return plural(Int(seconds / 60), "minute")
    }

    /// When the integration entered its current state (lists carry no history, so the view says it).
    static func enteredAt(_ view: IntegrationView) -> String {
        view.enteredStateAt ?? view.history.last?.at ?? ""
    }

    static func state(_ runtime: WorkflowRuntime, workflow: String, version: Int, state: String) -> StateDefinition? {
        (runtime.definitions[workflow]?[version] ?? runtime.current[workflow])?.states[state]
    }

    /// The vendor admin's board: integrations grouped by state (in the workflow's order), each with its age in the
    /// state, who owns the next step (the state's task owner, else RosterFlow itself) and what it waits for.
    static func board(_ integrations: [IntegrationView], tasks: [TaskItem], runtime: WorkflowRuntime) -> [String: Any] {
        let taskByIntegration = Dictionary(
            tasks.filter { $0.kind == "integration" }.map { ($0.instanceID, $0) }, uniquingKeysWith: { first, _ in first })
        let order = runtime.current[DomainVocabulary.Integration.workflow]?.stateOrder ?? []
        let grouped = Dictionary(grouping: integrations, by: \.state)
        let states = grouped.keys.sorted { (order.firstIndex(of: $0) ?? .max, $0) < (order.firstIndex(of: $1) ?? .max, $1) }
        let groups: [[String: Any]] = states.map { name in
            let items: [[String: Any]] = (grouped[name] ?? []).sorted { enteredAt($0) < enteredAt($1) }.map { view in
                let definition = state(runtime, workflow: DomainVocabulary.Integration.workflow, version: view.workflowVersion, state: view.state)
                let task = taskByIntegration[view.id]
                return [
                    "id": view.id, "district": view.district, "age": age(since: enteredAt(view)),
                    // A state without a task waits for RosterFlow itself (a sync, a timer) or is final.
                    "owner": task?.ownerLabel ?? (view.allowedEvents.isEmpty ? "nobody (finished)" : "RosterFlow (automatic)"),
                    "blocking": task?.todo ?? definition?.description ?? "",
                ]
            }
            return ["state": name, "label": label(name), "count": items.count, "items": items]
        }
        return ["groups": groups]
    }

    /// The school admin's home: where each integration stands in the workflow's words and what is expected of them.
    static func school(_ integrations: [IntegrationView], tasks: [TaskItem], runtime: WorkflowRuntime) -> [[String: Any]] {
        integrations.map { view in
            let definition = state(runtime, workflow: DomainVocabulary.Integration.workflow, version: view.workflowVersion, state: view.state)
            let mine = tasks.filter { $0.integrationID == view.id && $0.owner == Role.schoolAdmin.rawValue }
            var expected: [String] = mine.filter { $0.kind == "integration" }.map(\.todo)
            let courses = mine.filter { $0.kind == "course" }.count
            if courses > 0 { expected.append("verify \(courses) course mapping\(courses == 1 ? "" : "s") on the course map") }
            if view.syncTime == nil, view.allowedEvents.contains(where: { $0.event == "schedule" && $0.roles.contains(Role.schoolAdmin.rawValue) }) {
                expected.append("choose the daily sync time")
            }
            var unique: [String] = []
            for item in expected where !unique.contains(item) { unique.append(item) }
            return [
                "id": view.id, "district": view.district,
                "standing": definition?.description ?? label(view.state),
                "expected": unique.isEmpty ? "nothing right now." : unique.joined(separator: "; ") + ".",
            ]
        }
    }

    /// An integration's page: standing, actions the caller's role may take, the sync-time form, held runs, the course
    /// map, the last syncs' problems with their fixes, and the timeline.
    static func integration(
        _ view: IntegrationView, courses: [CourseView], runs: [SyncRunView], role: Role, runtime: WorkflowRuntime, canDecide: Bool
    ) -> [String: Any] {
        let definition = state(runtime, workflow: DomainVocabulary.Integration.workflow, version: view.workflowVersion, state: view.state)
        let mine = view.allowedEvents.filter { $0.roles.contains(role.rawValue) }
        let actions: [[String: Any]] = mine.filter { $0.event != "schedule" }.map { event in
            ["event": event.event, "label": label(event.event), "needsReason": false]
        }
        var values: [String: Any] = [
            "district": view.district, "state": view.state, "standing": definition?.description ?? label(view.state),
            "age": age(since: enteredAt(view)), "version": view.rowVersion, "actions": actions, "hasActions": !actions.isEmpty,
        ]
        if let time = view.syncTime, let zone = view.timezone {
            values["syncTime"] = time
            values["timezone"] = zone
            if let next = view.nextSyncAt, let date = try? Date(next, strategy: .iso8601), let tz = TimeZone(identifier: zone) {
                var style = Date.FormatStyle(date: .abbreviated, time: .shortened)
                style.timeZone = tz
                values["nextRun"] = date.formatted(style) + " (\(zone))"
            }
        }
        if mine.contains(where: { $0.event == "schedule" }) {
            let selected = view.timezone ?? "America/New_York"
            values["schedule"] = [
                "time": view.syncTime ?? "",
                "zones": TimeZone.knownTimeZoneIdentifiers.sorted().map { ["name": $0, "selected": $0 == selected] as [String: Any] },
            ] as [String: Any]
        }
        let held = runs.filter { $0.decision == "held" }
        values["heldRuns"] = held.map { run -> [String: Any] in
            // In plain words, only what changes: "users: 137 updated, 61 deleted".
            let counts = run.counts.keys.sorted().compactMap { entity -> String? in
                let c = run.counts[entity]!
                let parts = [(c.adds, "added"), (c.updates, "updated"), (c.deletes, "deleted"), (c.parked, "kept back")]
                    .filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
                return parts.isEmpty ? nil : "\(entity): " + parts.joined(separator: ", ")
            }
            return [
                "runID": run.id, "startedAt": run.startedAt, "reasons": run.reasons,
                "review": "This sync stopped before changing anything, for the reasons below. Changes it would make: "
                    + (counts.isEmpty ? "none" : counts.joined(separator: "; ")) + ".",
                "canDecide": canDecide, "hasMerges": !run.merges.isEmpty,
                "hasCarryForward": !run.carryForward.isEmpty,
                "carryForward": run.carryForward.map(\.summary),
            ]
        }
        values["hasHeldRuns"] = !held.isEmpty
        let courseItems: [[String: Any]] = courses.map { course in
            let events = course.allowedEvents.filter { $0.roles.contains(role.rawValue) && $0.event != "map" && $0.event != "student_started" }
            var item: [String: Any] = [
                "courseID": course.id, "title": course.title, "sourcedID": course.sourcedID,
                "catalog": course.catalogTitle.map { $0 + (course.baseID.map { " (\($0))" } ?? "") } ?? "not mapped yet",
                "state": label(course.state), "locked": course.locked ? "locked" : "no", "version": course.rowVersion,
                "actions": events.map { ["event": $0.event, "label": label($0.event)] },
            ]
            // Mapping takes a catalog course (base id and title), so it is a small form of its own, not a button.
            if course.allowedEvents.contains(where: { $0.event == "map" && $0.roles.contains(role.rawValue) }) {
                item["mapForm"] = [
                    "mapBaseID": course.baseID ?? "", "mapTitle": course.catalogTitle ?? "",
                    "mapLabel": course.baseID == nil ? "Map" : "Map again",
                    "needsReason": course.state == DomainVocabulary.CourseMapping.State.contentAdded,
                ] as [String: Any]
            }
            return item
        }
        values["courses"] = courseItems
        values["hasCourses"] = !courseItems.isEmpty
        let recent = runs.sorted { $0.startedAt > $1.startedAt }.prefix(5)
        values["syncs"] = recent.map { run -> [String: Any] in
            let problems = run.report.map { BundleCheck($0, limit: 20).problems } ?? []
            return [
                "startedAt": run.startedAt, "decision": label(run.decision), "errorCount": run.errorCount, "warningCount": run.warningCount,
                "problems": problems.map { ["where": $0.location, "message": $0.message, "fix": $0.fix] }, "hasProblems": !problems.isEmpty,
            ]
        }
        values["hasSyncs"] = !recent.isEmpty
        values["history"] = view.history.map { entry -> [String: Any] in
            ["at": entry.at, "event": label(entry.event), "from": entry.from ?? "start", "to": entry.to, "actor": entry.actor,
             "reason": entry.reason ?? ""]
        }
        return values
    }
}
