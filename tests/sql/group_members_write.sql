-- INSERT and DELETE on group_members: AdminAddUserToGroup and AdminRemoveUserFromGroup. A
-- membership has nothing to update. The empty pool is written and emptied again.
\ir fixtures/wrapper.sql
create server writer foreign data wrapper cognito_wrapper
  options (region :'region', user_pool_id :'empty_pool', endpoint_url :'endpoint',
           updatable 'true');
create user mapping for current_user server writer
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x');
create schema cognito;
import foreign schema cognito limit to (users, groups, group_members) from server writer
  into cognito;
set search_path = cognito, public, extensions;
set timezone = 'UTC';
\set an '(costs off, analyze, timing off, summary off, buffers off)'
select pg_relation_is_updatable('group_members'::regclass, false);

insert into users (username, email) values ('ann', 'ann@example.com'), ('bob', null);
insert into groups (group_name) values ('admins'), ('staff');

-- INSERT: one AdminAddUserToGroup per membership; RETURNING reads the user (AdminGetUser)
insert into group_members (group_name, username) values ('admins', 'ann')
  returning group_name, username, email, status;
explain :an insert into group_members (group_name, username)
  select 'staff', username from users;
select group_name, username, email from group_members order by 1, 2;
-- a user or group that does not exist: 23503
insert into group_members (group_name, username) values ('admins', 'nobody');
\echo :LAST_ERROR_SQLSTATE
insert into group_members (group_name, username) values ('nowhere', 'ann');
\echo :LAST_ERROR_SQLSTATE
-- a user's own values are written through users, not here
insert into group_members (group_name, username, email) values ('admins', 'bob', 'b@x');
\echo :LAST_ERROR_SQLSTATE
update group_members set group_name = 'staff' where username = 'ann';
\echo :LAST_ERROR_SQLSTATE

-- DELETE: one AdminRemoveUserFromGroup per membership
explain :an delete from group_members where group_name = 'staff' and username = 'bob';
with gone as (delete from group_members where username = 'ann' returning group_name, username)
select * from gone order by group_name;
select group_name, username from group_members order by 1, 2;

-- clean up
delete from group_members;
delete from groups;
delete from users;
select (select count(*) from users) as users, (select count(*) from groups) as groups;
