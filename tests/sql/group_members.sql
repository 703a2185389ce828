-- object 'group_members': who is in which group. A whole listing reads the groups
-- (ListGroups) and each group's members (ListUsersInGroup, several groups at once); a group
-- name is read with ListUsersInGroup alone, a username with AdminListGroupsForUser (and one
-- AdminGetUser when a user column other than username is read). PostgreSQL still checks
-- every condition.
\ir fixtures/wrapper.sql
\ir fixtures/main_server.sql
create schema imported;
import foreign schema cognito limit to (users, groups, group_members) from server cognito_server into imported;
\d imported.group_members
set search_path = imported, public, extensions;
set timezone = 'UTC';
\set an '(costs off, analyze, timing off, summary off, buffers off)'

-- every membership: 70 groups in two ListGroups pages, then each group's members (admins
-- and viewers take three pages each, the empty group one)
explain (costs off) select count(*) from group_members;
explain :an select count(*) from group_members;
select group_name, count(*) from group_members
 where group_name in ('admins', 'editors', 'viewers', 'empty', 'team07')
 group by 1 order by 1;
select count(*), count(distinct username) from group_members;
-- the user columns mean what they mean in users
select m.group_name, m.username, m.email, m.status, m.enabled, m.created_at, m.updated_at,
       m.attributes ->> 'custom:tenant' as tenant
  from group_members m where m.group_name = 'team07';
select count(*) as differing from group_members m join users u using (username)
 where (m.email, m.status, m.enabled, m.created_at, m.updated_at, m.attributes)
       is distinct from (u.email, u.status, u.enabled, u.created_at, u.updated_at, u.attributes);

-- a group: ListUsersInGroup only, a page per 60 members
explain (costs off) select username from group_members where group_name = 'admins';
explain :an select username from group_members where group_name = 'admins';
select count(*) from group_members where group_name = 'admins';
-- an IN list: each group's members; the empty group and a missing one give no rows
explain :an select * from group_members where group_name in ('editors', 'team07', 'empty', 'nobody');
select group_name, username from group_members
 where group_name in ('editors', 'team07', 'empty', 'nobody') order by 1, 2;

-- a user: AdminListGroupsForUser only, when only names are read
explain (costs off) select group_name from group_members where username = 'user0007';
explain :an select group_name from group_members where username = 'user0007';
select group_name, username from group_members where username = 'user0007' order by 1;
-- reading a user column adds one AdminGetUser
explain (costs off) select group_name, email from group_members where username = 'user0007';
explain :an select group_name, email, enabled from group_members where username = 'user0007';
select group_name, email, enabled from group_members where username = 'user0007' order by 1;
-- a name no ListUsers filter can carry is read all the same
select group_name, email from group_members where username = 'back\slash';
-- a user in no group, and one that does not exist: no rows
select * from group_members where username = 'user0500';
explain :an select * from group_members where username = 'nobody';
-- both: the user's groups are fewer than the group's members
explain :an select * from group_members where username = 'user0007' and group_name = 'admins';
select group_name, username from group_members where username = 'user0007' and group_name = 'admins';
-- names no group or user can have are not sent: listed, and checked locally
explain (costs off) select * from group_members where group_name = 'two words';
-- nothing equals NULL: no request
explain :an select * from group_members where username = null::text;

-- a parameter stays a lookup on the generic plan
set plan_cache_mode = force_generic_plan;
prepare of_group(text) as select username from group_members where group_name = $1;
explain (costs off) execute of_group('editors');
execute of_group('editors');
reset plan_cache_mode;

-- joins look each outer value up: the groups of a few users, the members of a few groups
explain (costs off)
select u.username, m.group_name from users u join group_members m using (username)
 where u.username in ('user0001', 'user0010');
select u.username, m.group_name from users u join group_members m using (username)
 where u.username in ('user0001', 'user0010') order by 1, 2;
explain (costs off)
select g.group_name, count(m.username) from groups g left join group_members m using (group_name)
 where g.group_name in ('editors', 'empty') group by 1;
select g.group_name, count(m.username) from groups g left join group_members m using (group_name)
 where g.group_name in ('editors', 'empty') group by 1 order by 1;

-- LIMIT is read lazily: a ListGroups page, then one group's first page
explain :an select username from group_members limit 5;
select count(*) from (select username from group_members limit 5) s;

-- extra attribute columns as in users; wrong types and unknown columns are refused
create foreign table members_custom (group_name text, username text,
  tenant text options (attribute 'custom:tenant'))
  server cognito_server options (object 'group_members');
select * from members_custom where group_name = 'team03';
create foreign table members_bad_type (group_name int)
  server cognito_server options (object 'group_members');
select * from members_bad_type;
create foreign table members_bad_column (group_name text, precedence int)
  server cognito_server options (object 'group_members');
select * from members_bad_column;
