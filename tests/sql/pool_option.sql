-- user_pool_id may sit on the server or on the table (the table wins): one server, one set of
-- credentials and one region, reads several pools. A table that reads a pool with no pool
-- named anywhere is refused before any request.
\ir fixtures/wrapper.sql
-- no pool on the server
create server regional foreign data wrapper cognito_wrapper
  options (region :'region', endpoint_url :'endpoint');
create user mapping for current_user server regional
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x');
create foreign table demo_users (username text, status text) server regional
  options (object 'users', user_pool_id :'demo_pool');
create foreign table typmod_users (username text) server regional
  options (object 'users', user_pool_id :'typmods_pool');
create foreign table main_groups (group_name text) server regional
  options (object 'groups', user_pool_id :'main_pool');
\set an '(costs off, analyze, timing off, summary off, buffers off)'

-- each table reads its own pool
select username, status from demo_users order by username;
select username from typmod_users order by username;
select count(*) from main_groups;
-- in one query too
select (select count(*) from demo_users) as demo, (select count(*) from typmod_users) as typmods;
explain :an select * from demo_users where username = 'alice';

-- a table with no pool, on a server with none, is refused when planned, naming the option
create foreign table nowhere (username text) server regional options (object 'users');
explain (costs off) select * from nowhere;
\echo :LAST_ERROR_SQLSTATE
select * from nowhere;
-- before any request: the server below refuses connections, yet the error is the option's
create server unreachable foreign data wrapper cognito_wrapper
  options (region :'region', endpoint_url 'http://127.0.0.1:1', max_attempts '1');
create user mapping for current_user server unreachable
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x');
create foreign table unreachable_groups (group_name text) server unreachable
  options (object 'groups');
select * from unreachable_groups;
\echo :LAST_ERROR_SQLSTATE
analyze unreachable_groups;
\echo :LAST_ERROR_SQLSTATE

-- the server's pool serves tables that name none; a table's own pool still wins
alter server regional options (add user_pool_id :'demo_pool');
select count(*) from nowhere;
alter foreign table nowhere options (add user_pool_id :'typmods_pool');
select count(*) from nowhere;
alter server regional options (set user_pool_id :'main_pool');
select count(*) from demo_users;
select count(*) from main_groups;
-- a plan made while the server named a pool is made again once it names none
alter foreign table nowhere options (drop user_pool_id);
prepare counted as select count(*) from nowhere;
execute counted;
alter server regional options (drop user_pool_id);
execute counted;
\echo :LAST_ERROR_SQLSTATE

-- a table's pool id has a pool id's shape, and its server's region
create foreign table bad_shape (username text) server regional
  options (object 'users', user_pool_id 'demo');
\echo :LAST_ERROR_SQLSTATE
create foreign table elsewhere (username text) server regional
  options (object 'users', user_pool_id 'eu-west-1_AbC123');
select * from elsewhere;
\echo :LAST_ERROR_SQLSTATE
