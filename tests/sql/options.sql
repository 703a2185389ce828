-- The validator: each mistake is refused with the options valid in that place and an HV SQLSTATE.
\ir fixtures/wrapper.sql

-- unknown option on the wrapper, the server, a table, a column
create foreign data wrapper other_wrapper handler cognito_fdw_handler validator cognito_fdw_validator options (region 'x');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', regoin 'x');
\echo :LAST_ERROR_SQLSTATE
-- required options (not user_pool_id: a table may name its own pool)
create server s foreign data wrapper cognito_wrapper options (user_pool_id 'us-east-1_Pool1');
\echo :LAST_ERROR_SQLSTATE
-- credentials: a key id needs exactly one secret form
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', aws_access_key_id 'AK');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', aws_access_key_id 'AK',
           aws_secret_access_key 'SECRET-NOT-SHOWN', api_key_id 'cognito');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', aws_secret_access_key 'SECRET-NOT-SHOWN');
\echo :LAST_ERROR_SQLSTATE
-- bad values
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', endpoint_url 'file:///etc/passwd');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', endpoint_url 'http://me:PASSWORD-NOT-SHOWN@127.0.0.1:9');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region '', user_pool_id 'us-east-1_Pool1');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', request_timeout_ms '-5');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', max_attempts 'lots');
\echo :LAST_ERROR_SQLSTATE

-- a region and a pool id of the wrong shape, or of two regions
create server s foreign data wrapper cognito_wrapper
  options (region 'us east 1', user_pool_id 'us-east-1_Pool1');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'Pool1');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'eu-west-1', user_pool_id 'us-east-1_Pool1');
\echo :LAST_ERROR_SQLSTATE
-- control characters, in any option; a secret's value is never shown
create server s foreign data wrapper cognito_wrapper
  options (region E'us-east-1\n', user_pool_id 'us-east-1_Pool1');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', aws_access_key_id E'AKIA\nEXAMPLE',
           aws_secret_access_key 'SECRET-NOT-SHOWN');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', aws_access_key_id 'AKIAEXAMPLE',
           aws_secret_access_key E'SECRET-NOT-SHOWN\t');
\echo :LAST_ERROR_SQLSTATE
-- a secret inline on a server is accepted, with a warning: every role can read it
create server inline_secret foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', aws_access_key_id 'AKIAEXAMPLE',
           aws_secret_access_key 'SECRET-NOT-SHOWN');
select count(*) from pg_foreign_server where srvname = 'inline_secret';
drop server inline_secret;

-- a good server; ALTER is validated against the whole resulting option list
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', endpoint_url 'http://127.0.0.1:9');
alter server s options (drop region);
\echo :LAST_ERROR_SQLSTATE
alter server s options (add connect_timeout_ms '250', set endpoint_url 'https://cognito.example');
select srvoptions from pg_foreign_server where srvname = 's';

-- user mappings take only credentials
create user mapping for current_user server s options (region 'eu-west-1');
\echo :LAST_ERROR_SQLSTATE
create user mapping for current_user server s options (aws_access_key_id 'AK');
\echo :LAST_ERROR_SQLSTATE
create user mapping for current_user server s
  options (aws_access_key_id 'AK', aws_secret_access_key E'SECRET-NOT-SHOWN\r');
\echo :LAST_ERROR_SQLSTATE
create user mapping for current_user server s options (aws_access_key_id 'AK', api_key_id 'cognito');

-- tables need a known object; columns take only "attribute"
create foreign table t1 (username text) server s;
\echo :LAST_ERROR_SQLSTATE
create foreign table t1 (username text) server s options (object 'widgets');
\echo :LAST_ERROR_SQLSTATE
create foreign table t1 (username text options (column_name 'x')) server s options (object 'users');
\echo :LAST_ERROR_SQLSTATE
-- attributes: a standard name, or custom:/dev: with a name
create foreign table t1 (tenant text options (attribute 'custom:')) server s options (object 'users');
\echo :LAST_ERROR_SQLSTATE
create foreign table t1 (mail text options (attribute 'emial')) server s options (object 'users');
\echo :LAST_ERROR_SQLSTATE
create foreign table t1 (tenant text options (attribute 'custom:tenant'),
                         internal text options (attribute 'dev:internal_id'),
                         modified text options (attribute 'updated_at'))
  server s options (object 'users');
\d t1
-- keywords in any case, the same rule for every one of them
create foreign table t2 (username text) server s
  options (object 'Users', pushdown 'TRUE', parallel_scan 'AUTO');
alter foreign table t2 options (set pushdown 'Off', set parallel_scan 'OFF');
select ftoptions from pg_foreign_table where ftrelid = 't2'::regclass;

-- a table may lower its server's request limits, never raise them: the server's owner sets
-- the ceiling for every role that may create tables on it
create server limited foreign data wrapper cognito_wrapper
  options (region :'region', user_pool_id :'demo_pool', endpoint_url :'endpoint',
           requests_per_second '5', max_concurrent_requests '1');
create user mapping for current_user server limited
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'SECRET-NOT-SHOWN');
create foreign table greedy (username text) server limited
  options (object 'users', requests_per_second '10000', max_concurrent_requests '64');
create foreign table modest (username text) server limited
  options (object 'users', requests_per_second '2');
\set an '(analyze, verbose, costs off, timing off, summary off, buffers off)'
explain :an select count(*) from greedy;
explain :an select count(*) from modest;

-- the options table, as the README shows it
select option, valid_in, required, default_value from cognito_fdw_options();
