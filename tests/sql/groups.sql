-- object 'groups': ListGroups pages through every group (60 a page); a group name is looked
-- up with GetGroup, one request per name. PostgreSQL still checks every condition.
\ir fixtures/wrapper.sql
\ir fixtures/main_server.sql
create schema imported;
import foreign schema cognito limit to (groups) from server cognito_server into imported;
\d imported.groups
set search_path = imported, public, extensions;
set timezone = 'UTC';
\set an '(costs off, analyze, timing off, summary off, buffers off)'

-- every column; 70 groups, two ListGroups pages
select * from groups where group_name in ('admins', 'editors', 'viewers', 'empty', 'team05', 'team06')
 order by group_name;
explain :an select count(*) from groups;
select count(*) from groups;
select count(*) filter (where description is null) as no_description,
       count(*) filter (where precedence is null) as no_precedence,
       count(*) filter (where role_arn is not null) as with_role
  from groups;

-- a name: one GetGroup
explain (costs off) select * from groups where group_name = 'admins';
explain :an select * from groups where group_name = 'admins';
select group_name, description, precedence from groups where group_name = 'admins';
-- an IN list: one GetGroup per distinct name, each group once
explain :an select group_name from groups where group_name in ('editors', 'team01', 'editors');
select group_name from groups where group_name in ('editors', 'team01', 'editors') order by 1;
-- a group that does not exist is no row, not an error
explain :an select * from groups where group_name = 'nobody';
select * from groups where group_name = 'nobody';
-- no group can be named so: listed, and checked locally
explain :an select * from groups where group_name = 'two words';
-- nothing equals NULL: no request
explain :an select * from groups where group_name = null::text;
-- a parameter stays a lookup on the generic plan
set plan_cache_mode = force_generic_plan;
prepare by_name(text) as select group_name, precedence from groups where group_name = $1;
explain (costs off) execute by_name('team10');
execute by_name('team10');
execute by_name('nobody');
reset plan_cache_mode;

-- LIMIT is read lazily: one request
explain :an select group_name from groups limit 5;
select count(*) from (select group_name from groups limit 5) s;
-- ListGroups has no filter: a prefix lists every group and is checked locally
explain :an select group_name from groups where group_name like 'team0%';
select count(*) from groups where group_name like 'team0%';

-- any column may be text; times as timestamptz
create foreign table groups_as_text (group_name varchar(20), precedence text,
  created_at timestamptz, updated_at text)
  server cognito_server options (object 'groups');
select * from groups_as_text where group_name = 'admins';
-- wrong types and unknown columns are refused
create foreign table groups_bad_type (group_name text, precedence boolean)
  server cognito_server options (object 'groups');
select * from groups_bad_type;
create foreign table groups_bad_column (group_name text, username text)
  server cognito_server options (object 'groups');
select * from groups_bad_column;
