-- INSERT, UPDATE and DELETE on groups: CreateGroup, UpdateGroup (only when the description,
-- precedence or role changed), DeleteGroup. The empty pool is written and emptied again.
\ir fixtures/wrapper.sql
create server writer foreign data wrapper cognito_wrapper
  options (region :'region', user_pool_id :'empty_pool', endpoint_url :'endpoint',
           updatable 'true');
create user mapping for current_user server writer
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x');
create schema cognito;
import foreign schema cognito limit to (groups) from server writer into cognito;
set search_path = cognito, public, extensions;
set timezone = 'UTC';
\set an '(costs off, analyze, timing off, summary off, buffers off)'
select pg_relation_is_updatable('groups'::regclass, false);

-- INSERT: one CreateGroup each; RETURNING reads the group back (GetGroup)
insert into groups (group_name, description, precedence, role_arn)
  values ('admins', 'Administrators', 1, 'arn:aws:iam::123456789012:role/admins')
  returning group_name, description, precedence, role_arn, created_at is not null as created;
explain :an insert into groups (group_name) values ('editors'), ('viewers');
select group_name, description, precedence, role_arn from groups order by group_name;
-- an existing group: 23505 (terse: Cognito's error carries a request id that differs on
-- every run)
\set VERBOSITY terse
insert into groups (group_name) values ('admins');
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
-- a negative precedence is refused before any request
insert into groups (group_name, precedence) values ('bad', -1);
\echo :LAST_ERROR_SQLSTATE
-- names and times are Cognito's
update groups set group_name = 'owners' where group_name = 'admins';
\echo :LAST_ERROR_SQLSTATE
insert into groups (group_name, created_at) values ('x', now());

-- UPDATE: one UpdateGroup per changed group, none for an unchanged one
explain :an update groups set precedence = 2 where group_name in ('editors', 'viewers');
explain :an update groups set description = description where group_name = 'admins';
update groups set description = null where group_name = 'admins'
  returning group_name, description, precedence, role_arn;
-- a table without every writable column keeps what it does not show (GetGroup first)
create foreign table group_notes (group_name text, description text) server writer
  options (object 'groups');
explain :an update group_notes set description = 'Editors' where group_name = 'editors';
select group_name, description, precedence from groups order by group_name;

-- DELETE: one DeleteGroup each
delete from groups where group_name = 'viewers' returning group_name, precedence;
begin;
delete from groups;
rollback;
select count(*) from groups;
