PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
INSERT INTO grdb_migrations VALUES('v1-workflow-instances');
INSERT INTO grdb_migrations VALUES('v1-customers-integrations-courses');
INSERT INTO grdb_migrations VALUES('v2-roster-sync');
INSERT INTO grdb_migrations VALUES('v3-sync-schedule');
INSERT INTO grdb_migrations VALUES('v2-outbox-deliveries');
CREATE TABLE workflow_definitions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    source TEXT NOT NULL,
    checksum TEXT NOT NULL,
    first_loaded_at REAL NOT NULL,
    PRIMARY KEY (name, version)
);
INSERT INTO workflow_definitions VALUES('course-mapping',1,replace('# One instance per school course: the school''s course mapped to a catalog course, verified, filled, then locked.\n# Change a shipped definition only together with a new version number: running instances stay on theirs.\nworkflow: course-mapping\nversion: 1\ndescription: A school course''s shell, mapped to a vendor catalog course, verified, given content, and locked once a student starts.\ninitial: shell_created\nstates:\n  shell_created:\n    description: An empty course shell exists for the school''s course.\n    task: { owner: dsp, todo: "Match {subject} to a catalog course" }\n    enter: [announce_course]\n    on:\n      map: { to: mapped, roles: [dsp, school_admin], effects: [store_mapping] }\n    refuse:\n      student_started: "the course has no catalog course yet, so there is nothing to start; map it first"\n\n  mapped:\n    description: A catalog course is chosen; the school confirms the match.\n    task: { owner: school_admin, todo: "Verify that {subject} matches its catalog course" }\n    after: { P3D: remind_unverified }\n    on:\n      map: { to: mapped, roles: [dsp, school_admin], effects: [store_mapping] }\n      verify:\n        to: verified\n        roles: [school_admin]\n        effects:\n          - notify: { to: dsp, template: mapping-verified }\n      remind_unverified:\n        to: mapped\n        roles: [system]\n        effects:\n          - notify: { to: school_contact, template: mapping-unverified }\n\n  verified:\n    description: The school confirmed the match; the DSP adds content.\n    task: { owner: dsp, todo: "Add content to {subject}" }\n    after: { P5D: remind_content }\n    on:\n      map: { to: mapped, roles: [dsp, school_admin], effects: [store_mapping] }\n      add_content: { to: content_added, roles: [dsp] }\n      remind_content:\n        to: verified\n        roles: [system]\n        effects:\n          - notify: { to: dsp, template: content-overdue }\n\n  content_added:\n    description: Content is in place; the course is ready for students.\n    enter: [check_integration_content]\n    on:\n      map: { to: mapped, roles: [dsp, school_admin], effects: [store_mapping] }\n      student_started: { to: locked, roles: [system, dsp, vendor_admin], effects: [record_lock] }\n\n  locked:\n    description: A student started the course; its base id can no longer change.\n    final: true\n    refuse:\n      map: "a student has started this course, so its base id is locked: changing it would lose the student''s work. Create a new catalog course version instead"\n','\n',char(10)),'8f664a415ddd78a6',1795506193.5553002357);
INSERT INTO workflow_definitions VALUES('integration',2,replace('# One instance per district integration: from ClassLink "app enabled" to live rostering.\n# Roles: vendor_admin, dsp, school_admin, system. Guards and effects are implemented in Swift (RosterFlowCore).\n# Change a shipped definition only together with a new version number: running instances stay on theirs.\nworkflow: integration\nversion: 2\ndescription: A district''s OneRoster integration, from the ClassLink request to live rostering.\ninitial: requested\nstates:\n  requested:\n    description: The district enabled the app in ClassLink; the vendor checks that it is an existing customer.\n    task: { owner: vendor_admin, todo: "Check that {subject} is an existing customer, then authenticate or reject it" }\n    enter:\n      - notify: { to: vendor_admins, template: integration-requested }\n    after: { P2D: remind_vendor }\n    on:\n      authenticate:\n        - { to: authenticated, guard: existing_customer, roles: [vendor_admin] }\n        - { to: rejected, roles: [vendor_admin], reason: "not an existing customer" }\n      reject: { to: rejected, roles: [vendor_admin] }\n      remind_vendor:\n        to: requested\n        roles: [system]\n        effects:\n          - notify: { to: vendor_admins, template: integration-waiting }\n      disable: { to: disabled, roles: [system, vendor_admin] }\n\n  authenticated:\n    description: The vendor confirmed the customer; the school must choose its daily sync time.\n    task: { owner: school_admin, todo: "Tell us the preferred daily sync time and time zone for {subject}" }\n    enter:\n      - notify: { to: school_contact, template: sync-time-needed }\n    after: { P3D: remind_school }\n    on:\n      schedule: { to: scheduled, roles: [school_admin, vendor_admin], effects: [store_schedule] }\n      remind_school:\n        to: authenticated\n        roles: [system]\n        effects:\n          - notify: { to: school_contact, template: sync-time-reminder }\n      disable: { to: disabled, roles: [system, vendor_admin] }\n\n  scheduled:\n    description: The sync time is set; the first nightly sync will create the course shells.\n    task: { owner: system, todo: "Run the first nightly sync of {subject} to create its course shells" }\n    on:\n      schedule: { to: stay, roles: [school_admin, vendor_admin], effects: [store_schedule] }\n      shells_created: { to: shells_created, roles: [system] }\n      hold: { to: on_hold, roles: [system, vendor_admin] }\n      disable: { to: disabled, roles: [system, vendor_admin] }\n\n  shells_created:\n    description: Every rostered course has an empty shell; the school and the DSP map them to catalog content.\n    task: { owner: dsp, todo: "Map every course of {subject} to catalog content" }\n    enter:\n      - notify: { to: dsp, template: shells-created }\n    on:\n      all_content_mapped: { to: content_mapped, guard: all_courses_have_content, roles: [system, vendor_admin] }\n      schedule: { to: stay, roles: [school_admin, vendor_admin], effects: [store_schedule] }\n      hold: { to: on_hold, roles: [system, vendor_admin] }\n      disable: { to: disabled, roles: [system, vendor_admin] }\n\n  content_mapped:\n    description: Every course has content; the vendor takes the integration live.\n    task: { owner: vendor_admin, todo: "Review {subject} and take it live" }\n    on:\n      go_live: { to: live, guard: all_courses_have_content, roles: [vendor_admin] }\n      schedule: { to: stay, roles: [school_admin, vendor_admin], effects: [store_schedule] }\n      hold: { to: on_hold, roles: [system, vendor_admin] }\n      disable: { to: disabled, roles: [system, vendor_admin] }\n\n  live:\n    description: Students are working; nightly syncs keep the roster current.\n    on:\n      schedule: { to: stay, roles: [school_admin, vendor_admin], effects: [store_schedule] }\n      hold: { to: on_hold, roles: [system, vendor_admin] }\n      disable: { to: disabled, roles: [system, vendor_admin] }\n\n  on_hold:\n    description: Paused, e.g. a sync would delete too much and waits for review.\n    task: { owner: vendor_admin, todo: "Review why {subject} is on hold, then resume it" }\n    enter:\n      - notify: { to: district_admin, template: sync-held }\n    on:\n      resume: { to: previous, roles: [vendor_admin] }\n      disable: { to: disabled, roles: [system, vendor_admin] }\n\n  rejected:\n    description: The request did not come from an existing customer.\n    enter:\n      - notify: { to: school_contact, template: integration-rejected }\n    on:\n      reconsider: { to: requested, roles: [vendor_admin] }\n\n  disabled:\n    description: The district switched the app off in ClassLink.\n    on:\n      re_enable: { to: requested, roles: [system, vendor_admin] }\n','\n',char(10)),'fd58acbc2ddc8354',1795506193.5553002357);
CREATE TABLE workflow_instances (
    id TEXT PRIMARY KEY NOT NULL,
    workflow TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    previous_state TEXT,
    subject_title TEXT NOT NULL,
    row_version INTEGER NOT NULL,
    created_at REAL NOT NULL,
    entered_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
INSERT INTO workflow_instances VALUES('int_hp93eh8n','integration',2,'live','content_mapped','Springfield USD',6,1795506193.5856714248,1795506193.6189846992,1795506193.6189846992);
INSERT INTO workflow_instances VALUES('crs_zvzpbece','course-mapping',1,'locked','content_added','Algebra I (Springfield USD)',5,1795506193.5971193313,1795506193.6199197768,1795506193.6199197768);
INSERT INTO workflow_instances VALUES('crs_kvaxtbst','course-mapping',1,'locked','content_added','Biology (Springfield USD)',5,1795506193.6003928184,1795506193.6208670139,1795506193.6208670139);
INSERT INTO workflow_instances VALUES('crs_gj9num4b','course-mapping',1,'locked','content_added','English 9 (Springfield USD)',5,1795506193.6047277451,1795506193.6217164993,1795506193.6217164993);
INSERT INTO workflow_instances VALUES('int_46rj7r3p','integration',2,'rejected','requested','Shelbyville SD',2,1795506193.6235041618,1795506193.6255884169,1795506193.6255884169);
INSERT INTO workflow_instances VALUES('crs_9jvvnsz4','course-mapping',1,'shell_created',NULL,'Algebra I 05 (Springfield USD)',1,1795506193.9474673271,1795506193.9474673271,1795506193.9474673271);
CREATE TABLE transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL REFERENCES workflow_instances (id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    at REAL NOT NULL,
    reason TEXT,
    row_version INTEGER NOT NULL
);
INSERT INTO transitions VALUES(1,'int_hp93eh8n',NULL,'requested','create','classlink','system',1795506193.5856714248,'district enabled the app in ClassLink (rule-based)',1);
INSERT INTO transitions VALUES(2,'int_hp93eh8n','requested','authenticated','authenticate','vendor:ana','vendor_admin',1795506193.5919985771,NULL,2);
INSERT INTO transitions VALUES(3,'int_hp93eh8n','authenticated','scheduled','schedule','school:lee','school_admin',1795506193.5956242084,'daily sync at 02:30 America/Chicago',3);
INSERT INTO transitions VALUES(4,'crs_zvzpbece',NULL,'shell_created','create','rosterflow','system',1795506193.5971193313,'course shell created for crs-alg1',1);
INSERT INTO transitions VALUES(5,'int_hp93eh8n','scheduled','shells_created','shells_created','rosterflow','system',1795506193.5971193313,'first course shell created (Algebra I)',4);
INSERT INTO transitions VALUES(6,'crs_kvaxtbst',NULL,'shell_created','create','rosterflow','system',1795506193.6003928184,'course shell created for crs-bio',1);
INSERT INTO transitions VALUES(7,'crs_gj9num4b',NULL,'shell_created','create','rosterflow','system',1795506193.6047277451,'course shell created for crs-eng9',1);
INSERT INTO transitions VALUES(8,'crs_zvzpbece','shell_created','mapped','map','dsp:kim','dsp',1795506193.6071596145,'mapped to Catalog Algebra I [BASE-100]',2);
INSERT INTO transitions VALUES(9,'crs_zvzpbece','mapped','verified','verify','school:lee','school_admin',1795506193.6086139679,NULL,3);
INSERT INTO transitions VALUES(10,'crs_zvzpbece','verified','content_added','add_content','dsp:kim','dsp',1795506193.6101346015,NULL,4);
INSERT INTO transitions VALUES(11,'crs_kvaxtbst','shell_created','mapped','map','dsp:kim','dsp',1795506193.6115527152,'mapped to Catalog Biology [BASE-101]',2);
INSERT INTO transitions VALUES(12,'crs_kvaxtbst','mapped','verified','verify','school:lee','school_admin',1795506193.6125538349,NULL,3);
INSERT INTO transitions VALUES(13,'crs_kvaxtbst','verified','content_added','add_content','dsp:kim','dsp',1795506193.6138787269,NULL,4);
INSERT INTO transitions VALUES(14,'crs_gj9num4b','shell_created','mapped','map','dsp:kim','dsp',1795506193.6150069236,'mapped to Catalog English 9 [BASE-102]',2);
INSERT INTO transitions VALUES(15,'crs_gj9num4b','mapped','verified','verify','school:lee','school_admin',1795506193.6161065101,NULL,3);
INSERT INTO transitions VALUES(16,'crs_gj9num4b','verified','content_added','add_content','dsp:kim','dsp',1795506193.6175551414,NULL,4);
INSERT INTO transitions VALUES(17,'int_hp93eh8n','shells_created','content_mapped','all_content_mapped','rosterflow','system',1795506193.6175551414,'every course has content (the last was English 9 (Springfield USD))',5);
INSERT INTO transitions VALUES(18,'int_hp93eh8n','content_mapped','live','go_live','vendor:ana','vendor_admin',1795506193.6189846992,NULL,6);
INSERT INTO transitions VALUES(19,'crs_zvzpbece','content_added','locked','student_started','platform','system',1795506193.6199197768,'first student started the course',5);
INSERT INTO transitions VALUES(20,'crs_kvaxtbst','content_added','locked','student_started','platform','system',1795506193.6208670139,'first student started the course',5);
INSERT INTO transitions VALUES(21,'crs_gj9num4b','content_added','locked','student_started','platform','system',1795506193.6217164993,'first student started the course',5);
INSERT INTO transitions VALUES(22,'int_46rj7r3p',NULL,'requested','create','classlink','system',1795506193.6235041618,'district enabled the app in ClassLink (full)',1);
INSERT INTO transitions VALUES(23,'int_46rj7r3p','requested','rejected','authenticate','vendor:ana','vendor_admin',1795506193.6255884169,'not an existing customer: tenant ''demo-unknown'' (Shelbyville SD) is not in the customer registry',2);
INSERT INTO transitions VALUES(24,'crs_9jvvnsz4',NULL,'shell_created','create','rosterflow','system',1795506193.9474673271,'course shell created by sync run_ru77yg3w',1);
CREATE TABLE timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL REFERENCES workflow_instances (id),
    event TEXT NOT NULL,
    due_at REAL NOT NULL,
    armed_at REAL NOT NULL,
    armed_in_state TEXT NOT NULL
);
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    instance_id TEXT NOT NULL,
    transition_seq INTEGER,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    template TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    created_at REAL NOT NULL,
    last_error TEXT
);
INSERT INTO outbox VALUES('msg_nhy4z8ssf5m3','int_hp93eh8n',1,'email','vendor_admins','integration-requested','{"contact_email":"rostering@springfield.example","district":"Springfield USD","event":"create","instance_id":"int_hp93eh8n","integration_id":"int_hp93eh8n","reason":"district enabled the app in ClassLink (rule-based)","state":"requested","subject":"Springfield USD","tenant_id":"demo-springfield","workflow":"integration"}','skipped',1,1795506193.5856714248,1795506193.5856714248,'no address for ''vendor_admins'': add it under recipients.vendor_admins in the configuration or set ROSTERFLOW_VENDOR_ADMINS');
INSERT INTO outbox VALUES('msg_gjs7xsr4665m','int_hp93eh8n',2,'email','school_contact','sync-time-needed','{"contact_email":"rostering@springfield.example","district":"Springfield USD","event":"authenticate","from_state":"requested","instance_id":"int_hp93eh8n","integration_id":"int_hp93eh8n","state":"authenticated","subject":"Springfield USD","tenant_id":"demo-springfield","workflow":"integration"}','sent',1,1795506193.5919985771,1795506193.5919985771,NULL);
INSERT INTO outbox VALUES('msg_7sck8e4v5shu','int_hp93eh8n',5,'email','dsp','shells-created','{"contact_email":"rostering@springfield.example","district":"Springfield USD","event":"shells_created","from_state":"scheduled","instance_id":"int_hp93eh8n","integration_id":"int_hp93eh8n","reason":"first course shell created (Algebra I)","state":"shells_created","subject":"Springfield USD","sync_time":"02:30","tenant_id":"demo-springfield","timezone":"America/Chicago","workflow":"integration"}','skipped',1,1795506193.5971193313,1795506193.5971193313,'no address for ''dsp'': add it under recipients.dsp in the configuration or set ROSTERFLOW_DSP');
INSERT INTO outbox VALUES('msg_nv336aexgdzu','crs_zvzpbece',9,'email','dsp','mapping-verified','{"base_id":"BASE-100","catalog_title":"Catalog Algebra I","contact_email":"rostering@springfield.example","course_sourced_id":"crs-alg1","course_title":"Algebra I","district":"Springfield USD","event":"verify","from_state":"mapped","instance_id":"crs_zvzpbece","integration_id":"int_hp93eh8n","state":"verified","subject":"Algebra I (Springfield USD)","sync_time":"02:30","tenant_id":"demo-springfield","timezone":"America/Chicago","workflow":"course-mapping"}','skipped',1,1795506193.6086139679,1795506193.6086139679,'no address for ''dsp'': add it under recipients.dsp in the configuration or set ROSTERFLOW_DSP');
INSERT INTO outbox VALUES('msg_n5mfwjqwvg9r','crs_kvaxtbst',12,'email','dsp','mapping-verified','{"base_id":"BASE-101","catalog_title":"Catalog Biology","contact_email":"rostering@springfield.example","course_sourced_id":"crs-bio","course_title":"Biology","district":"Springfield USD","event":"verify","from_state":"mapped","instance_id":"crs_kvaxtbst","integration_id":"int_hp93eh8n","state":"verified","subject":"Biology (Springfield USD)","sync_time":"02:30","tenant_id":"demo-springfield","timezone":"America/Chicago","workflow":"course-mapping"}','skipped',1,1795506193.6125538349,1795506193.6125538349,'no address for ''dsp'': add it under recipients.dsp in the configuration or set ROSTERFLOW_DSP');
INSERT INTO outbox VALUES('msg_he7yu3wrmrmf','crs_gj9num4b',15,'email','dsp','mapping-verified','{"base_id":"BASE-102","catalog_title":"Catalog English 9","contact_email":"rostering@springfield.example","course_sourced_id":"crs-eng9","course_title":"English 9","district":"Springfield USD","event":"verify","from_state":"mapped","instance_id":"crs_gj9num4b","integration_id":"int_hp93eh8n","state":"verified","subject":"English 9 (Springfield USD)","sync_time":"02:30","tenant_id":"demo-springfield","timezone":"America/Chicago","workflow":"course-mapping"}','skipped',1,1795506193.6161065101,1795506193.6161065101,'no address for ''dsp'': add it under recipients.dsp in the configuration or set ROSTERFLOW_DSP');
INSERT INTO outbox VALUES('msg_63xxher325jm','int_46rj7r3p',22,'email','vendor_admins','integration-requested','{"contact_email":"it@shelbyville.example","district":"Shelbyville SD","event":"create","instance_id":"int_46rj7r3p","integration_id":"int_46rj7r3p","reason":"district enabled the app in ClassLink (full)","state":"requested","subject":"Shelbyville SD","tenant_id":"demo-unknown","workflow":"integration"}','skipped',1,1795506193.6235041618,1795506193.6235041618,'no address for ''vendor_admins'': add it under recipients.vendor_admins in the configuration or set ROSTERFLOW_VENDOR_ADMINS');
INSERT INTO outbox VALUES('msg_g4u9w5pskrt7','int_46rj7r3p',23,'email','school_contact','integration-rejected','{"contact_email":"it@shelbyville.example","district":"Shelbyville SD","event":"authenticate","from_state":"requested","instance_id":"int_46rj7r3p","integration_id":"int_46rj7r3p","reason":"not an existing customer: tenant ''demo-unknown'' (Shelbyville SD) is not in the customer registry","state":"rejected","subject":"Shelbyville SD","tenant_id":"demo-unknown","workflow":"integration"}','sent',1,1795506193.6255884169,1795506193.6255884169,NULL);
INSERT INTO outbox VALUES('msg_6uaqavnwef43','crs_9jvvnsz4',24,'email','dsp','course-added-after-startup','{"contact_email":"rostering@springfield.example","course_sourced_id":"crs-1","course_title":"Algebra I 05","district":"Springfield USD","event":"create","instance_id":"crs_9jvvnsz4","integration_id":"int_hp93eh8n","reason":"course shell created by sync run_ru77yg3w","state":"shell_created","subject":"Algebra I 05 (Springfield USD)","sync_time":"02:30","tenant_id":"demo-springfield","timezone":"America/Chicago","workflow":"course-mapping"}','skipped',1,1795506193.9474673271,1795506193.9474673271,'no address for ''dsp'': add it under recipients.dsp in the configuration or set ROSTERFLOW_DSP');
CREATE TABLE customers (
    tenant_id TEXT PRIMARY KEY NOT NULL,
    district TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    imported_at REAL NOT NULL
);
INSERT INTO customers VALUES('demo-springfield','Springfield USD','rostering@springfield.example',1795506193.5839247703);
CREATE TABLE integrations (
    id TEXT PRIMARY KEY NOT NULL REFERENCES workflow_instances (id),
    tenant_id TEXT NOT NULL,
    district TEXT NOT NULL,
    permission TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    sync_time TEXT,
    timezone TEXT,
    next_sync_at REAL,
    created_at REAL NOT NULL
, sync_source TEXT, last_sync_run TEXT, sync_policy TEXT);
INSERT INTO integrations VALUES('int_hp93eh8n','demo-springfield','Springfield USD','rule-based','rostering@springfield.example','02:30','America/Chicago',1795509000.0,1795506193.5856714248,NULL,NULL,NULL);
INSERT INTO integrations VALUES('int_46rj7r3p','demo-unknown','Shelbyville SD','full','it@shelbyville.example',NULL,NULL,NULL,1795506193.6235041618,NULL,NULL,NULL);
CREATE TABLE courses (
    id TEXT PRIMARY KEY NOT NULL REFERENCES workflow_instances (id),
    integration_id TEXT NOT NULL REFERENCES integrations (id),
    sourced_id TEXT NOT NULL,
    title TEXT NOT NULL,
    catalog_title TEXT,
    base_id TEXT,
    locked_at REAL,
    created_at REAL NOT NULL,
    UNIQUE (integration_id, sourced_id)
);
INSERT INTO courses VALUES('crs_zvzpbece','int_hp93eh8n','crs-alg1','Algebra I','Catalog Algebra I','BASE-100',1795506193.6199197768,1795506193.5971193313);
INSERT INTO courses VALUES('crs_kvaxtbst','int_hp93eh8n','crs-bio','Biology','Catalog Biology','BASE-101',1795506193.6208670139,1795506193.6003928184);
INSERT INTO courses VALUES('crs_gj9num4b','int_hp93eh8n','crs-eng9','English 9','Catalog English 9','BASE-102',1795506193.6217164993,1795506193.6047277451);
INSERT INTO courses VALUES('crs_9jvvnsz4','int_hp93eh8n','crs-1','Algebra I 05',NULL,NULL,NULL,1795506193.9474673271);
CREATE TABLE roster_records (
    integration_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    sourced_id TEXT NOT NULL,
    digest INTEGER NOT NULL,
    ref1 TEXT,
    ref2 TEXT,
    ref3 TEXT,
    title TEXT,
    run_id TEXT NOT NULL,
    PRIMARY KEY (integration_id, entity, sourced_id)
) WITHOUT ROWID;
INSERT INTO roster_records VALUES('int_hp93eh8n','academicSessions','as-2025',-738564699120899647,'schoolYear',NULL,NULL,'2024-25 School Year','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','academicSessions','as-2025-s1',8707161408212766236,'semester','as-2025',NULL,'Fall 2024','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','academicSessions','as-2025-s2',-8766300693574948383,'semester','as-2025',NULL,'Spring 2025','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','classes','cls-1',8112775254208638914,'crs-1','org-school-1',NULL,'Algebra I 05 - Period 2','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','classes','cls-2',8931141732508719343,'crs-1','org-school-1',NULL,'Algebra I 05 - Period 6','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','courses','crs-1',-4910844167936604344,'org-district',NULL,NULL,'Algebra I 05','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000001',6992987308142841620,'cls-1','tch-000001','teacher',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000002',7720828157900023509,'cls-2','tch-000001','teacher',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000003',-8819047095590494251,'cls-1','stu-0000001','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000004',-6793875437653398818,'cls-1','stu-0000002','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000005',5201670390744933974,'cls-2','stu-0000003','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000006',8744271549478433268,'cls-1','stu-0000004','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000007',-1354457344915224020,'cls-2','stu-0000005','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000008',-4538947133046872886,'cls-1','stu-0000006','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000009',-6264042965588422025,'cls-1','stu-0000007','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000010',8947454126822358341,'cls-2','stu-0000008','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000011',-3312363216027672872,'cls-2','stu-0000009','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000012',-5197062337497965750,'cls-2','stu-0000010','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000013',-7690003573782664457,'cls-2','stu-0000011','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000014',-4072517644642414848,'cls-2','stu-0000001','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000015',6078262176379204243,'cls-2','stu-0000002','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000016',-4016667522094162725,'cls-1','stu-0000003','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000017',-4472033143279791095,'cls-2','stu-0000004','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000018',8290533717063612017,'cls-1','stu-0000005','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000019',-4099648832938029297,'cls-2','stu-0000006','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','enrollments','enr-00000020',3405319174996491138,'cls-2','stu-0000007','student',NULL,'run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','orgs','org-district',-4039637598643176344,'district',NULL,NULL,'Maple Grove Unified School District','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','orgs','org-school-1',400013061000878666,'school','org-district',NULL,'Maple Grove High School','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000001',-8025722332669018023,'hana.jones1','hana.jones1@maplegrove.k12.example.org','200000','Hana Jones','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000002',-2421745417399144048,'omar.johnson2','omar.johnson2@maplegrove.k12.example.org','200001','Omar Johnson','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000003',1312787381347995792,'amelia.moore3','amelia.moore3@maplegrove.k12.example.org','200002','Amelia Moore','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000004',-242789679344042702,'nguyen.singh4','nguyen.singh4@maplegrove.k12.example.org','200003','Nguyen Singh','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000005',-7290374194115048148,'harper.obrien5','harper.obrien5@maplegrove.k12.example.org','200004','Harper O''Brien','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000006',4218762847350512761,'fatima.wilson6','fatima.wilson6@maplegrove.k12.example.org','200005','Fatima Wilson','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000007',-6021886838435824211,'aiden.taylor7','aiden.taylor7@maplegrove.k12.example.org','200006','Aiden Taylor','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000008',-3038720460688649037,'noah.singh8','noah.singh8@maplegrove.k12.example.org','200007','Noah Singh','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000009',-2504726782803978915,'zoe.smith9','zoe.smith9@maplegrove.k12.example.org','200008','Zoe Smith','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000010',327959917290640287,'harper.nguyen10','harper.nguyen10@maplegrove.k12.example.org','200009','Harper Nguyen','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','stu-0000011',-6181959174466758780,'ravi.lopez11','ravi.lopez11@maplegrove.k12.example.org','200010','Ravi Lopez','run_ru77yg3w');
INSERT INTO roster_records VALUES('int_hp93eh8n','users','tch-000001',5216461836290049461,'olivia.jackson1','olivia.jackson1@maplegrove.k12.example.org','T10000','Olivia Jackson','run_ru77yg3w');
CREATE TABLE sync_runs (
    id TEXT PRIMARY KEY NOT NULL,
    integration_id TEXT NOT NULL REFERENCES integrations (id),
    bundle TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    decision TEXT NOT NULL,
    reasons TEXT NOT NULL,
    counts TEXT NOT NULL,
    report TEXT NOT NULL,
    based_on_run TEXT
);
INSERT INTO sync_runs VALUES('run_ru77yg3w','int_hp93eh8n','b1',1795506193.941640377,1795506193.9474673271,'applied','[]','{"academicSessions":{"adds":3,"deletes":0,"held":0,"incoming":3,"unchanged":0,"updates":0},"classes":{"adds":2,"deletes":0,"held":0,"incoming":2,"unchanged":0,"updates":0},"courses":{"adds":1,"deletes":0,"held":0,"incoming":1,"unchanged":0,"updates":0},"enrollments":{"adds":20,"deletes":0,"held":0,"incoming":20,"unchanged":0,"updates":0},"orgs":{"adds":2,"deletes":0,"held":0,"incoming":2,"unchanged":0,"updates":0},"users":{"adds":12,"deletes":0,"held":0,"incoming":12,"unchanged":0,"updates":0}}','{"countsByCode":{},"errorCount":0,"files":[{"file":"orgs.csv","issuesNotListed":{},"mode":"bulk","present":true,"rowsLoaded":2,"rowsQuarantined":0,"rowsRead":2},{"file":"academicSessions.csv","issuesNotListed":{},"mode":"bulk","present":true,"rowsLoaded":3,"rowsQuarantined":0,"rowsRead":3},{"file":"courses.csv","issuesNotListed":{},"mode":"bulk","present":true,"rowsLoaded":1,"rowsQuarantined":0,"rowsRead":1},{"file":"classes.csv","issuesNotListed":{},"mode":"bulk","present":true,"rowsLoaded":2,"rowsQuarantined":0,"rowsRead":2},{"file":"users.csv","issuesNotListed":{},"mode":"bulk","present":true,"rowsLoaded":12,"rowsQuarantined":0,"rowsRead":12},{"file":"roles.csv","issuesNotListed":{},"mode":"bulk","present":true,"rowsLoaded":12,"rowsQuarantined":0,"rowsRead":12},{"file":"enrollments.csv","issuesNotListed":{},"mode":"bulk","present":true,"rowsLoaded":20,"rowsQuarantined":0,"rowsRead":20}],"infoCount":0,"issues":[],"warningCount":0}',NULL);
CREATE TABLE sync_changes (
    run_id TEXT NOT NULL REFERENCES sync_runs (id),
    seq INTEGER NOT NULL,
    entity TEXT NOT NULL,
    op TEXT NOT NULL,
    sourced_id TEXT NOT NULL,
    digest INTEGER,
    ref1 TEXT,
    ref2 TEXT,
    ref3 TEXT,
    title TEXT,
    parked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE roster_history (
    sourced_id TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    run_id TEXT NOT NULL,
    op TEXT NOT NULL,
    digest INTEGER,
    title TEXT,
    at REAL NOT NULL,
    PRIMARY KEY (sourced_id, integration_id, entity, run_id)
) WITHOUT ROWID;
INSERT INTO roster_history VALUES('as-2025','int_hp93eh8n','academicSessions','run_ru77yg3w','add',-738564699120899647,'2024-25 School Year',1795506193.9474673271);
INSERT INTO roster_history VALUES('as-2025-s1','int_hp93eh8n','academicSessions','run_ru77yg3w','add',8707161408212766236,'Fall 2024',1795506193.9474673271);
INSERT INTO roster_history VALUES('as-2025-s2','int_hp93eh8n','academicSessions','run_ru77yg3w','add',-8766300693574948383,'Spring 2025',1795506193.9474673271);
INSERT INTO roster_history VALUES('cls-1','int_hp93eh8n','classes','run_ru77yg3w','add',8112775254208638914,'Algebra I 05 - Period 2',1795506193.9474673271);
INSERT INTO roster_history VALUES('cls-2','int_hp93eh8n','classes','run_ru77yg3w','add',8931141732508719343,'Algebra I 05 - Period 6',1795506193.9474673271);
INSERT INTO roster_history VALUES('crs-1','int_hp93eh8n','courses','run_ru77yg3w','add',-4910844167936604344,'Algebra I 05',1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000001','int_hp93eh8n','enrollments','run_ru77yg3w','add',6992987308142841620,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000002','int_hp93eh8n','enrollments','run_ru77yg3w','add',7720828157900023509,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000003','int_hp93eh8n','enrollments','run_ru77yg3w','add',-8819047095590494251,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000004','int_hp93eh8n','enrollments','run_ru77yg3w','add',-6793875437653398818,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000005','int_hp93eh8n','enrollments','run_ru77yg3w','add',5201670390744933974,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000006','int_hp93eh8n','enrollments','run_ru77yg3w','add',8744271549478433268,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000007','int_hp93eh8n','enrollments','run_ru77yg3w','add',-1354457344915224020,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000008','int_hp93eh8n','enrollments','run_ru77yg3w','add',-4538947133046872886,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000009','int_hp93eh8n','enrollments','run_ru77yg3w','add',-6264042965588422025,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000010','int_hp93eh8n','enrollments','run_ru77yg3w','add',8947454126822358341,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000011','int_hp93eh8n','enrollments','run_ru77yg3w','add',-3312363216027672872,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000012','int_hp93eh8n','enrollments','run_ru77yg3w','add',-5197062337497965750,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000013','int_hp93eh8n','enrollments','run_ru77yg3w','add',-7690003573782664457,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000014','int_hp93eh8n','enrollments','run_ru77yg3w','add',-4072517644642414848,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000015','int_hp93eh8n','enrollments','run_ru77yg3w','add',6078262176379204243,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000016','int_hp93eh8n','enrollments','run_ru77yg3w','add',-4016667522094162725,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000017','int_hp93eh8n','enrollments','run_ru77yg3w','add',-4472033143279791095,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000018','int_hp93eh8n','enrollments','run_ru77yg3w','add',8290533717063612017,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000019','int_hp93eh8n','enrollments','run_ru77yg3w','add',-4099648832938029297,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('enr-00000020','int_hp93eh8n','enrollments','run_ru77yg3w','add',3405319174996491138,NULL,1795506193.9474673271);
INSERT INTO roster_history VALUES('org-district','int_hp93eh8n','orgs','run_ru77yg3w','add',-4039637598643176344,'Maple Grove Unified School District',1795506193.9474673271);
INSERT INTO roster_history VALUES('org-school-1','int_hp93eh8n','orgs','run_ru77yg3w','add',400013061000878666,'Maple Grove High School',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000001','int_hp93eh8n','users','run_ru77yg3w','add',-8025722332669018023,'Hana Jones',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000002','int_hp93eh8n','users','run_ru77yg3w','add',-2421745417399144048,'Omar Johnson',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000003','int_hp93eh8n','users','run_ru77yg3w','add',1312787381347995792,'Amelia Moore',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000004','int_hp93eh8n','users','run_ru77yg3w','add',-242789679344042702,'Nguyen Singh',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000005','int_hp93eh8n','users','run_ru77yg3w','add',-7290374194115048148,'Harper O''Brien',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000006','int_hp93eh8n','users','run_ru77yg3w','add',4218762847350512761,'Fatima Wilson',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000007','int_hp93eh8n','users','run_ru77yg3w','add',-6021886838435824211,'Aiden Taylor',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000008','int_hp93eh8n','users','run_ru77yg3w','add',-3038720460688649037,'Noah Singh',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000009','int_hp93eh8n','users','run_ru77yg3w','add',-2504726782803978915,'Zoe Smith',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000010','int_hp93eh8n','users','run_ru77yg3w','add',327959917290640287,'Harper Nguyen',1795506193.9474673271);
INSERT INTO roster_history VALUES('stu-0000011','int_hp93eh8n','users','run_ru77yg3w','add',-6181959174466758780,'Ravi Lopez',1795506193.9474673271);
INSERT INTO roster_history VALUES('tch-000001','int_hp93eh8n','users','run_ru77yg3w','add',5216461836290049461,'Olivia Jackson',1795506193.9474673271);
CREATE TABLE outbox_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    outbox_id TEXT NOT NULL REFERENCES outbox (id),
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_by TEXT,
    lease_until REAL,
    last_error TEXT,
    last_attempt_at REAL,
    delivered_at REAL,
    created_at REAL NOT NULL,
    UNIQUE (outbox_id, channel, destination)
);
INSERT INTO outbox_deliveries VALUES('msg_nhy4z8ssf5m3/email','msg_nhy4z8ssf5m3','email','vendor_admins','skipped',1,1795506193.5856714248,NULL,NULL,'no address for ''vendor_admins'': add it under recipients.vendor_admins in the configuration or set ROSTERFLOW_VENDOR_ADMINS',1795506194.0524208545,NULL,1795506194.0418162346);
INSERT INTO outbox_deliveries VALUES('msg_gjs7xsr4665m/email','msg_gjs7xsr4665m','email','school_contact','sent',1,1795506193.5919985771,NULL,NULL,NULL,1795506194.0524208545,1795506194.0524208545,1795506194.0418162346);
INSERT INTO outbox_deliveries VALUES('msg_7sck8e4v5shu/email','msg_7sck8e4v5shu','email','dsp','skipped',1,1795506193.5971193313,NULL,NULL,'no address for ''dsp'': add it under recipients.dsp in the configuration or set ROSTERFLOW_DSP',1795506194.0524208545,NULL,1795506194.0418162346);
INSERT INTO outbox_deliveries VALUES('msg_nv336aexgdzu/email','msg_nv336aexgdzu','email','dsp','skipped',1,1795506193.6086139679,NULL,NULL,'no address for ''dsp'': add it under recipients.dsp in the configuration or set ROSTERFLOW_DSP',1795506194.0524208545,NULL,1795506194.0418162346);
INSERT INTO outbox_deliveries VALUES('msg_n5mfwjqwvg9r/email','msg_n5mfwjqwvg9r','email','dsp','skipped',1,1795506193.6125538349,NULL,NULL,'no address for ''dsp'': add it under recipients.dsp in the configuration or set ROSTERFLOW_DSP',1795506194.0524208545,NULL,1795506194.0418162346);
INSERT INTO outbox_deliveries VALUES('msg_he7yu3wrmrmf/email','msg_he7yu3wrmrmf','email','dsp','skipped',1,1795506193.6161065101,NULL,NULL,'no address for ''dsp'': add it under recipients.dsp in the configuration or set ROSTERFLOW_DSP',1795506194.0524208545,NULL,1795506194.0418162346);
INSERT INTO outbox_deliveries VALUES('msg_63xxher325jm/email','msg_63xxher325jm','email','vendor_admins','skipped',1,1795506193.6235041618,NULL,NULL,'no address for ''vendor_admins'': add it under recipients.vendor_admins in the configuration or set ROSTERFLOW_VENDOR_ADMINS',1795506194.0524208545,NULL,1795506194.0418162346);
INSERT INTO outbox_deliveries VALUES('msg_g4u9w5pskrt7/email','msg_g4u9w5pskrt7','email','school_contact','sent',1,1795506193.6255884169,NULL,NULL,NULL,1795506194.0524208545,1795506194.0524208545,1795506194.0418162346);
INSERT INTO outbox_deliveries VALUES('msg_6uaqavnwef43/email','msg_6uaqavnwef43','email','dsp','skipped',1,1795506193.9474673271,NULL,NULL,'no address for ''dsp'': add it under recipients.dsp in the configuration or set ROSTERFLOW_DSP',1795506194.0524208545,NULL,1795506194.0418162346);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('transitions',24);
INSERT INTO sqlite_sequence VALUES('timers',9);
CREATE INDEX workflow_instances_by_state ON workflow_instances (workflow, state);
CREATE INDEX transitions_by_instance ON transitions (instance_id, seq);
CREATE TRIGGER transitions_append_only_update BEFORE UPDATE ON transitions
BEGIN SELECT RAISE(ABORT, 'transition history is append-only'); END;
CREATE TRIGGER transitions_append_only_delete BEFORE DELETE ON transitions
BEGIN SELECT RAISE(ABORT, 'transition history is append-only'); END;
CREATE INDEX timers_by_due ON timers (due_at);
CREATE INDEX timers_by_instance ON timers (instance_id);
CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at);
CREATE INDEX integrations_by_tenant ON integrations (tenant_id);
CREATE INDEX sync_runs_by_integration ON sync_runs (integration_id, started_at);
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (status, next_attempt_at);
CREATE INDEX outbox_deliveries_by_message ON outbox_deliveries (outbox_id);
COMMIT;
