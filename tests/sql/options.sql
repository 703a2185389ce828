-- The validator: each mistake is refused with the options valid in that place and an HV SQLSTATE.
\set SHOW_CONTEXT never
create schema if not exists extensions;
create extension if not exists wrappers with schema extensions;
set search_path = public, extensions;
create foreign data wrapper cognito_wrapper handler cognito_fdw_handler validator cognito_fdw_validator;

-- unknown option on the wrapper, the server, a table, a column
create foreign data wrapper other_wrapper handler cognito_fdw_handler validator cognito_fdw_validator options (region 'x');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper options (region 'us-east-1', user_pool_id 'p', regoin 'x');
\echo :LAST_ERROR_SQLSTATE
-- required options
create server s foreign data wrapper cognito_wrapper options (region 'us-east-1');
\echo :LAST_ERROR_SQLSTATE
-- credentials: a key id needs exactly one secret form
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'p', aws_access_key_id 'AK');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'p', aws_access_key_id 'AK',
           aws_secret_access_key 'SECRET-NOT-SHOWN', api_key_id 'cognito');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'p', aws_secret_access_key 'SECRET-NOT-SHOWN');
\echo :LAST_ERROR_SQLSTATE
-- bad values
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'p', endpoint_url 'file:///etc/passwd');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'p', endpoint_url 'http://me:PASSWORD-NOT-SHOWN@127.0.0.1:9');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region '', user_pool_id 'p');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'p', request_timeout_ms '-5');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'p', max_attempts 'lots');
\echo :LAST_ERROR_SQLSTATE

-- a good server; ALTER is validated against the whole resulting option list
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'p', endpoint_url 'http://127.0.0.1:9');
alter server s options (drop user_pool_id);
\echo :LAST_ERROR_SQLSTATE
alter server s options (add connect_timeout_ms '250', set endpoint_url 'https://cognito.example');
select srvoptions from pg_foreign_server where srvname = 's';

-- user mappings take only credentials
create user mapping for current_user server s options (region 'eu-west-1');
\echo :LAST_ERROR_SQLSTATE
create user mapping for current_user server s options (aws_access_key_id 'AK');
\echo :LAST_ERROR_SQLSTATE
create user mapping for current_user server s options (aws_access_key_id 'AK', api_key_id 'cognito');

-- tables need a known object; columns take only "attribute"
create foreign table t1 (username text) server s;
\echo :LAST_ERROR_SQLSTATE
create foreign table t1 (username text) server s options (object 'widgets');
\echo :LAST_ERROR_SQLSTATE
create foreign table t1 (username text options (column_name 'x')) server s options (object 'users');
\echo :LAST_ERROR_SQLSTATE
create foreign table t1 (tenant text options (attribute 'custom:tenant')) server s options (object 'users');
\d t1

-- the options table, as the README shows it
select option, valid_in, required, default_value from cognito_fdw_options();
