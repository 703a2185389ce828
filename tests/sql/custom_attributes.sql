-- IMPORT FOREIGN SCHEMA ... OPTIONS (custom_attribute_columns 'true') reads the server's pool's
-- schema (one DescribeUserPool) and adds to users one column per custom attribute, typed by
-- the attribute's type, after the seven documented ones, and the same to group_members after
-- its eight.
\ir fixtures/wrapper.sql
create server custom_server foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'custom_pool', endpoint_url :'endpoint');
set timezone = 'UTC';
create schema custom;
import foreign schema cognito from server custom_server into custom
  options (custom_attribute_columns 'true');
-- String as text, Number as bigint, DateTime as timestamptz, Boolean as boolean; custom:status
-- is named like a documented column, custom:Team-Name is no plain name
\d custom.users
-- the other tables are as documented
select foreign_table_name from information_schema.foreign_tables
 where foreign_table_schema = 'custom' order by 1;
select username, email, tenant_id, seats, renewed_at, active, custom_status, "Team-Name"
  from custom.users order by username;
-- typed values compute as their types
select sum(seats) as seats, count(*) filter (where active) as active,
       max(renewed_at) - min(renewed_at) as renewal_span
  from custom.users;

-- group_members gets the same columns after its eight
\d custom.group_members
-- read as in users, whichever request found the member: every group's members (ListGroups,
-- ListUsersInGroup per group), one group's (ListUsersInGroup), one user's groups (AdminGetUser
-- and AdminListGroupsForUser)
explain (costs off) select * from custom.group_members;
select group_name, username, tenant_id, seats, renewed_at, active, custom_status, "Team-Name"
  from custom.group_members order by 1, 2;
explain (costs off) select * from custom.group_members where group_name = 'leads';
select username, tenant_id, seats, renewed_at, active from custom.group_members
 where group_name = 'leads';
explain (costs off) select * from custom.group_members where username = 'ann';
select group_name, tenant_id, seats, renewed_at, active, "Team-Name" from custom.group_members
 where username = 'ann' order by 1;
select sum(seats) as seats, count(*) filter (where active) as active from custom.group_members;

-- without the option (or with it false) the import is the documented one, with no request
create schema documented;
import foreign schema cognito limit to (users) from server custom_server into documented;
create schema unasked;
import foreign schema cognito limit to (users) from server custom_server into unasked
  options (custom_attribute_columns 'false');
select table_schema, count(*) as columns from information_schema.columns
 where table_schema in ('documented', 'unasked') and table_name = 'users'
 group by 1 order by 1;
-- an import that creates no users or group_members table makes no request either: an
-- unreachable server
create server unreachable foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'custom_pool', endpoint_url 'http://127.0.0.1:1', max_attempts '1');
create schema offline;
import foreign schema cognito except (users, group_members) from server unreachable
  into offline options (custom_attribute_columns 'true');
select count(*) from information_schema.foreign_tables where foreign_table_schema = 'offline';
-- one that does asks, and says why it could not (terse: the detail holds timings)
\set VERBOSITY terse
import foreign schema cognito limit to (users) from server unreachable into offline
  options (custom_attribute_columns 'true');
\echo :LAST_ERROR_SQLSTATE
import foreign schema cognito limit to (group_members) from server unreachable into offline
  options (custom_attribute_columns 'true');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
-- the pool must be named on the server: the import has no table to name it
create server no_pool foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           endpoint_url :'endpoint');
import foreign schema cognito limit to (users) from server no_pool into offline
  options (custom_attribute_columns 'true');
\echo :LAST_ERROR_SQLSTATE
-- a pool that does not exist
\set missing_pool :region _doesnotexist
alter server no_pool options (add user_pool_id :'missing_pool');
import foreign schema cognito limit to (users) from server no_pool into offline
  options (custom_attribute_columns 'true');
\echo :LAST_ERROR_SQLSTATE
-- the option is a boolean
import foreign schema cognito from server custom_server into offline
  options (custom_attribute_columns 'maybe');
\echo :LAST_ERROR_SQLSTATE

-- attribute columns of any table may be typed so; a value that is not of the type fails its
-- column, naming the user
create foreign table typed (username text,
  seats int options (attribute 'custom:seats'),
  renewed timestamp options (attribute 'custom:renewed_at'),
  tenant bigint options (attribute 'custom:tenant_id'))
  server custom_server options (object 'users');
select username, seats, renewed from typed order by username;
select username, tenant from typed order by username;
-- and so in a group_members table, where the message names the membership
create foreign table typed_members (group_name text, username text,
  seats int options (attribute 'custom:seats'),
  renewed timestamp options (attribute 'custom:renewed_at'),
  tenant bigint options (attribute 'custom:tenant_id'))
  server custom_server options (object 'group_members');
select group_name, username, seats, renewed from typed_members order by 1, 2;
select group_name, username, tenant from typed_members where group_name = 'leads';
