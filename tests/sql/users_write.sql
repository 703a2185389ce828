-- INSERT, UPDATE and DELETE on users. A table writes only when its server's owner allows it
-- (option updatable); each row's changes are sent when the row is processed, only what
-- changed is sent, and RETURNING gives what Cognito holds afterwards. The empty pool is
-- written and emptied again.
\ir fixtures/wrapper.sql
create server writer foreign data wrapper cognito_wrapper
  options (region :'region', user_pool_id :'empty_pool', endpoint_url :'endpoint');
create user mapping for current_user server writer
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x');
create schema cognito;
import foreign schema cognito limit to (users) from server writer into cognito;
set search_path = cognito, public, extensions;
set timezone = 'UTC';
\set an '(costs off, analyze, timing off, summary off, buffers off)'

-- not updatable until the server says so: refused before any request, naming the option
insert into users (username, email) values ('ann', 'ann@example.com');
\echo :LAST_ERROR_SQLSTATE
select is_insertable_into from information_schema.tables
 where table_schema = 'cognito' and table_name = 'users';
select pg_relation_is_updatable('users'::regclass, false);
-- a table cannot allow what its server does not
alter foreign table users options (add updatable 'true');
delete from users;
\echo :LAST_ERROR_SQLSTATE
alter foreign table users options (drop updatable);
alter server writer options (add updatable 'true');
select is_insertable_into from information_schema.tables
 where table_schema = 'cognito' and table_name = 'users';
select pg_relation_is_updatable('users'::regclass, false);

-- INSERT: one AdminCreateUser per user (no invitation); RETURNING reads the user back
insert into users (username, email, attributes)
  values ('ann', 'ann@example.com', '{"name": "Ann", "given_name": "Ann"}')
  returning username, email, status, enabled, attributes ? 'sub' as has_sub,
            attributes ->> 'name' as name, created_at is not null as created;
-- enabled false: AdminCreateUser, then AdminDisableUser
explain :an insert into users (username, email, enabled)
  values ('bob', 'bob@example.com', false), ('cy', null, true);
select username, email, status, enabled, attributes - 'sub' as attributes
  from users order by username;

-- ON CONFLICT DO NOTHING: a username that exists is no row (re-running a migration), in a
-- batch or one row at a time (RETURNING)
explain :an insert into users (username, email)
  values ('bob', 'bob@example.org'), ('gus', 'gus@example.com') on conflict do nothing;
insert into users (username) values ('gus'), ('hal') on conflict do nothing
  returning username, status;
select username, email from users where username in ('bob', 'gus', 'hal') order by 1;
delete from users where username in ('gus', 'hal');

-- what cannot be written is refused before any request, naming the column
-- (terse: Cognito's own error carries a request id that differs on every run)
\set VERBOSITY terse
insert into users (username) values ('ann');
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
insert into users (email) values ('nobody@example.com');
\echo :LAST_ERROR_SQLSTATE
insert into users (username, status) values ('dee', 'CONFIRMED');
\echo :LAST_ERROR_SQLSTATE
insert into users (username, created_at) values ('dee', now());
update users set username = 'anne' where username = 'ann';
\echo :LAST_ERROR_SQLSTATE
update users set updated_at = now();
insert into users (username, email, attributes)
  values ('dee', 'dee@example.com', '{"email": "other@example.com"}');
\echo :LAST_ERROR_SQLSTATE
update users set status = 'CONFIRMED' where username = 'ann';
\echo :LAST_ERROR_SQLSTATE

-- UPDATE sends what changed, and nothing when nothing did
explain :an update users set email = 'ann@example.org' where username = 'ann';
explain :an update users set email = email, enabled = enabled where username = 'ann';
explain :an update users set enabled = not enabled where username in ('ann', 'bob');
-- a key removed from attributes, or a column set to NULL, deletes the attribute
explain :an update users set attributes = attributes - 'given_name' where username = 'ann';
update users set email = null, attributes = attributes || '{"nickname": "annie"}'
 where username = 'ann'
 returning username, email, enabled, attributes - 'sub' as attributes;
select username, email, enabled, attributes - 'sub' as attributes from users order by username;

-- DELETE: one AdminDeleteUser; RETURNING gives the row as it was read
delete from users where username = 'cy' returning username, status, enabled;
-- a user deleted meanwhile is no row: here the join returns each user twice, and the second
-- AdminDeleteUser finds the user gone. The row count says what was deleted, whether the rows
-- were in flight together (no RETURNING) or sent one by one (RETURNING).
insert into users (username) values ('dan'), ('eve'), ('fay');
explain :an delete from users u using (values (1), (2)) v(n) where u.username = 'dan';
insert into users (username) values ('dan');
do $$
declare deleted bigint;
begin
  delete from users u using (values (1), (2)) v(n) where u.username in ('dan', 'eve');
  get diagnostics deleted = row_count;
  raise notice 'deleted % users', deleted;
end $$;
with gone as (
  delete from users u using (values (1), (2)) v(n) where u.username = 'fay'
  returning u.username)
select username, count(*) from gone group by username;
select count(*) from users where username in ('dan', 'eve', 'fay');

-- Cognito has no transactions: a ROLLBACK says what it could not undo
begin;
update users set enabled = true where username = 'bob';
delete from users where username = 'ann';
rollback;
select username, enabled from users order by username;

-- a table may refuse writes its server allows
alter foreign table users options (add updatable 'false');
delete from users;
\echo :LAST_ERROR_SQLSTATE
alter foreign table users options (drop updatable);
delete from users returning username;
select count(*) from users;
