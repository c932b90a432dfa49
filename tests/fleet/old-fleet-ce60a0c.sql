-- SPDX-License-Identifier: MIT
-- A fleet made by an older build (tests/fleet/test_fleet_upgrade.sh): the `roles` schema and its
-- rows as `rolesctl init` with a source made them at commit ce60a0c (the last commit on main
-- before the write path's PostgreSQL objects: f76a2bc added roles.events and roles.ingest), so
-- without events, ingest, lockout, report, hosts, the fleet's facts, the claims, or a fleet
-- schema version. Made once: that commit built in a temporary worktree, its `rolesctl init`
-- run against the lab's PostgreSQL 15 (tests/fleet/lib.sh, fleet_setup, as postgres), then
--     pg_dump -U postgres --schema=roles -d fleet
-- (pg_dump 15.18; its \restrict and \unrestrict lines taken out, for older psql 15), and the two
-- NOLOGIN roles that init makes (pg_dump of one database does not dump roles) put first, as init
-- makes them. Loaded with psql -v ON_ERROR_STOP=1 into an empty database.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'roles_host') THEN
    CREATE ROLE roles_host NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'roles_host_secrets') THEN
    CREATE ROLE roles_host_secrets NOLOGIN IN ROLE roles_host; END IF;
END $$;
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: roles; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA roles;


ALTER SCHEMA roles OWNER TO postgres;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: audit; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.audit (
    id bigint NOT NULL,
    at bigint NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    detail text NOT NULL
);


ALTER TABLE roles.audit OWNER TO postgres;

--
-- Name: changes; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.changes (
    serial bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    actor text NOT NULL,
    public_cs bytea,
    secrets_cs bytea,
    audit_cs bytea
);


ALTER TABLE roles.changes OWNER TO postgres;

--
-- Name: codes; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.codes (
    user_uuid text NOT NULL,
    kind text NOT NULL,
    code_hash bytea NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at bigint
);


ALTER TABLE roles.codes OWNER TO postgres;

--
-- Name: credentials; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.credentials (
    user_uuid text NOT NULL,
    password_hash text,
    password_changed_at bigint,
    must_change_password bigint NOT NULL,
    fs_uniquifier text NOT NULL,
    last_auth_sensitive_operation_at bigint,
    email text,
    user_data text NOT NULL,
    totp_secret text,
    activated_at bigint,
    created_at bigint NOT NULL
);


ALTER TABLE roles.credentials OWNER TO postgres;

--
-- Name: fleet; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.fleet (
    id integer NOT NULL,
    serial bigint NOT NULL,
    public_version integer NOT NULL,
    secrets_version integer NOT NULL,
    CONSTRAINT fleet_id_check CHECK ((id = 1))
);


ALTER TABLE roles.fleet OWNER TO postgres;

--
-- Name: group_members; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.group_members (
    group_id bigint NOT NULL,
    user_id bigint NOT NULL
);


ALTER TABLE roles.group_members OWNER TO postgres;

--
-- Name: groups; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.groups (
    id bigint NOT NULL,
    uuid text NOT NULL,
    name text NOT NULL,
    gid bigint NOT NULL,
    description text NOT NULL,
    group_data text NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);


ALTER TABLE roles.groups OWNER TO postgres;

--
-- Name: host_changes; Type: VIEW; Schema: roles; Owner: postgres
--

CREATE VIEW roles.host_changes AS
 SELECT changes.serial,
    changes.public_cs
   FROM roles.changes;


ALTER TABLE roles.host_changes OWNER TO postgres;

--
-- Name: host_secret_changes; Type: VIEW; Schema: roles; Owner: postgres
--

CREATE VIEW roles.host_secret_changes AS
 SELECT changes.serial,
    changes.secrets_cs
   FROM roles.changes;


ALTER TABLE roles.host_secret_changes OWNER TO postgres;

--
-- Name: metarole_includes; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.metarole_includes (
    parent_id bigint NOT NULL,
    child_id bigint NOT NULL
);


ALTER TABLE roles.metarole_includes OWNER TO postgres;

--
-- Name: metarole_perms; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.metarole_perms (
    metarole_id bigint NOT NULL,
    perm text NOT NULL
);


ALTER TABLE roles.metarole_perms OWNER TO postgres;

--
-- Name: metaroles; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.metaroles (
    id bigint NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    description text NOT NULL,
    gid bigint,
    builtin bigint NOT NULL,
    created_at bigint NOT NULL
);


ALTER TABLE roles.metaroles OWNER TO postgres;

--
-- Name: recovery_codes; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.recovery_codes (
    user_uuid text NOT NULL,
    code_hash bytea NOT NULL,
    created_at bigint NOT NULL,
    used_at bigint
);


ALTER TABLE roles.recovery_codes OWNER TO postgres;

--
-- Name: retired_ids; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.retired_ids (
    kind text NOT NULL,
    id bigint NOT NULL,
    name text NOT NULL,
    retired_at bigint NOT NULL
);


ALTER TABLE roles.retired_ids OWNER TO postgres;

--
-- Name: role_assignments; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.role_assignments (
    user_id bigint NOT NULL,
    role_id bigint NOT NULL,
    until bigint,
    assigned_at bigint NOT NULL
);


ALTER TABLE roles.role_assignments OWNER TO postgres;

--
-- Name: role_perms; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.role_perms (
    role_id bigint NOT NULL,
    perm text NOT NULL,
    disabled bigint NOT NULL
);


ALTER TABLE roles.role_perms OWNER TO postgres;

--
-- Name: roles; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.roles (
    id bigint NOT NULL,
    name text NOT NULL,
    description text NOT NULL,
    metarole_id bigint NOT NULL,
    created_at bigint NOT NULL
);


ALTER TABLE roles.roles OWNER TO postgres;

--
-- Name: sequences; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.sequences (
    name text NOT NULL,
    seq bigint NOT NULL
);


ALTER TABLE roles.sequences OWNER TO postgres;

--
-- Name: users; Type: TABLE; Schema: roles; Owner: postgres
--

CREATE TABLE roles.users (
    id bigint NOT NULL,
    uuid text NOT NULL,
    name text NOT NULL,
    uid bigint NOT NULL,
    gid bigint NOT NULL,
    gecos text NOT NULL,
    home text NOT NULL,
    shell text NOT NULL,
    enabled bigint NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    activated_at bigint,
    expires_at bigint
);


ALTER TABLE roles.users OWNER TO postgres;

--
-- Data for Name: audit; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.audit (id, at, actor, action, target, detail) FROM stdin;
1	1796615721	root (uid 0)	init	/tmp/roles-fleetup-gen.DIZJHi/admin/cache/fleet-645c80043cf44005/roles.db	
\.


--
-- Data for Name: changes; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.changes (serial, at, actor, public_cs, secrets_cs, audit_cs) FROM stdin;
1	2026-12-07 03:55:21.251732+00	init	\N	\N	\N
2	2026-12-07 03:55:21.304612+00	root (uid 0)	\N	\N	\\x5406010000000000617564697400120001000000000000000101000000006b162e29030c726f6f7420287569642030290304696e697403492f746d702f726f6c65732d666c65657475702d67656e2e44495a4a48692f61646d696e2f63616368652f666c6565742d363435633830303433636634343030352f726f6c65732e64620300
\.


--
-- Data for Name: codes; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.codes (user_uuid, kind, code_hash, created_at, expires_at, used_at) FROM stdin;
\.


--
-- Data for Name: credentials; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.credentials (user_uuid, password_hash, password_changed_at, must_change_password, fs_uniquifier, last_auth_sensitive_operation_at, email, user_data, totp_secret, activated_at, created_at) FROM stdin;
\.


--
-- Data for Name: fleet; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.fleet (id, serial, public_version, secrets_version) FROM stdin;
1	2	3	3
\.


--
-- Data for Name: group_members; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.group_members (group_id, user_id) FROM stdin;
\.


--
-- Data for Name: groups; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.groups (id, uuid, name, gid, description, group_data, created_at, updated_at) FROM stdin;
\.


--
-- Data for Name: metarole_includes; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.metarole_includes (parent_id, child_id) FROM stdin;
1	2
2	3
\.


--
-- Data for Name: metarole_perms; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.metarole_perms (metarole_id, perm) FROM stdin;
\.


--
-- Data for Name: metaroles; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.metaroles (id, code, name, description, gid, builtin, created_at) FROM stdin;
1	super-admin	Super administrator	Holds every permission	\N	1	1796615721
2	admin	Administrator		\N	1	1796615721
3	user	User		\N	1	1796615721
\.


--
-- Data for Name: recovery_codes; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.recovery_codes (user_uuid, code_hash, created_at, used_at) FROM stdin;
\.


--
-- Data for Name: retired_ids; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.retired_ids (kind, id, name, retired_at) FROM stdin;
\.


--
-- Data for Name: role_assignments; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.role_assignments (user_id, role_id, until, assigned_at) FROM stdin;
\.


--
-- Data for Name: role_perms; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.role_perms (role_id, perm, disabled) FROM stdin;
\.


--
-- Data for Name: roles; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.roles (id, name, description, metarole_id, created_at) FROM stdin;
\.


--
-- Data for Name: sequences; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.sequences (name, seq) FROM stdin;
\.


--
-- Data for Name: users; Type: TABLE DATA; Schema: roles; Owner: postgres
--

COPY roles.users (id, uuid, name, uid, gid, gecos, home, shell, enabled, created_at, updated_at, activated_at, expires_at) FROM stdin;
\.


--
-- Name: audit audit_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.audit
    ADD CONSTRAINT audit_pkey PRIMARY KEY (id);


--
-- Name: changes changes_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.changes
    ADD CONSTRAINT changes_pkey PRIMARY KEY (serial);


--
-- Name: codes codes_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.codes
    ADD CONSTRAINT codes_pkey PRIMARY KEY (user_uuid, kind);


--
-- Name: credentials credentials_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.credentials
    ADD CONSTRAINT credentials_pkey PRIMARY KEY (user_uuid);


--
-- Name: fleet fleet_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.fleet
    ADD CONSTRAINT fleet_pkey PRIMARY KEY (id);


--
-- Name: group_members group_members_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.group_members
    ADD CONSTRAINT group_members_pkey PRIMARY KEY (group_id, user_id);


--
-- Name: groups groups_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.groups
    ADD CONSTRAINT groups_pkey PRIMARY KEY (id);


--
-- Name: metarole_includes metarole_includes_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.metarole_includes
    ADD CONSTRAINT metarole_includes_pkey PRIMARY KEY (parent_id, child_id);


--
-- Name: metarole_perms metarole_perms_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.metarole_perms
    ADD CONSTRAINT metarole_perms_pkey PRIMARY KEY (metarole_id, perm);


--
-- Name: metaroles metaroles_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.metaroles
    ADD CONSTRAINT metaroles_pkey PRIMARY KEY (id);


--
-- Name: recovery_codes recovery_codes_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.recovery_codes
    ADD CONSTRAINT recovery_codes_pkey PRIMARY KEY (user_uuid, code_hash);


--
-- Name: retired_ids retired_ids_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.retired_ids
    ADD CONSTRAINT retired_ids_pkey PRIMARY KEY (kind, id);


--
-- Name: role_assignments role_assignments_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.role_assignments
    ADD CONSTRAINT role_assignments_pkey PRIMARY KEY (user_id, role_id);


--
-- Name: role_perms role_perms_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.role_perms
    ADD CONSTRAINT role_perms_pkey PRIMARY KEY (role_id, perm);


--
-- Name: roles roles_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.roles
    ADD CONSTRAINT roles_pkey PRIMARY KEY (id);


--
-- Name: sequences sequences_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.sequences
    ADD CONSTRAINT sequences_pkey PRIMARY KEY (name);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: roles; Owner: postgres
--

ALTER TABLE ONLY roles.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: SCHEMA roles; Type: ACL; Schema: -; Owner: postgres
--

GRANT USAGE ON SCHEMA roles TO roles_host;


--
-- Name: TABLE codes; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.codes TO roles_host_secrets;


--
-- Name: TABLE credentials; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.credentials TO roles_host_secrets;


--
-- Name: TABLE fleet; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.fleet TO roles_host;


--
-- Name: TABLE group_members; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.group_members TO roles_host;


--
-- Name: TABLE groups; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.groups TO roles_host;


--
-- Name: TABLE host_changes; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.host_changes TO roles_host;


--
-- Name: TABLE host_secret_changes; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.host_secret_changes TO roles_host_secrets;


--
-- Name: TABLE metarole_includes; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.metarole_includes TO roles_host;


--
-- Name: TABLE metarole_perms; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.metarole_perms TO roles_host;


--
-- Name: TABLE metaroles; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.metaroles TO roles_host;


--
-- Name: TABLE recovery_codes; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.recovery_codes TO roles_host_secrets;


--
-- Name: TABLE retired_ids; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.retired_ids TO roles_host;


--
-- Name: TABLE role_assignments; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.role_assignments TO roles_host;


--
-- Name: TABLE role_perms; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.role_perms TO roles_host;


--
-- Name: TABLE roles; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.roles TO roles_host;


--
-- Name: TABLE sequences; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.sequences TO roles_host;


--
-- Name: TABLE users; Type: ACL; Schema: roles; Owner: postgres
--

GRANT SELECT ON TABLE roles.users TO roles_host;


--
-- PostgreSQL database dump complete
--


