-- Errors from Cognito and from the network say what failed and where, with a fitting SQLSTATE.
\ir fixtures/wrapper.sql

-- a pool that does not exist (the DETAIL, with the AWS request id, is checked by pytest)
create server missing_pool foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id 'us-east-1_doesnotexist', endpoint_url :'endpoint');
create foreign table missing (username text) server missing_pool options (object 'users');
\set VERBOSITY terse
select * from missing;
\echo :LAST_ERROR_SQLSTATE
-- nothing listens at the endpoint: a refused connection is retried (max_attempts), and the
-- error says so in words of its own (the DETAIL, not shown here, adds the time and the cause)
create server nobody_home foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'main_pool', endpoint_url 'http://127.0.0.1:1', max_attempts '2',
           max_backoff_ms '10', use_remote_estimate 'false');
create foreign table refused (username text) server nobody_home options (object 'users');
select * from refused;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
-- the session goes on after each
select count(*) from (select 1) s;
