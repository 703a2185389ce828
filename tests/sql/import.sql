-- IMPORT FOREIGN SCHEMA creates the documented table, and honours LIMIT TO and EXCEPT.
\ir fixtures/wrapper.sql
create server "Cognito Server" foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'demo_pool', endpoint_url :'endpoint');
create schema limited;
import foreign schema cognito limit to (users) from server "Cognito Server" into limited;
create schema excepted;
import foreign schema cognito except (users) from server "Cognito Server" into excepted;
create schema other;
import foreign schema cognito limit to (groups) from server "Cognito Server" into other;
select foreign_table_schema, foreign_table_name, foreign_server_name
  from information_schema.foreign_tables order by 1, 2;
-- the import makes no request: an unreachable server imports just the same
create server unreachable foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'demo_pool', endpoint_url 'http://127.0.0.1:1');
create schema offline;
import foreign schema cognito from server unreachable into offline;
select count(*) from pg_foreign_table where ftrelid = 'offline.users'::regclass;
-- IMPORT FOREIGN SCHEMA takes one option (custom_attribute_columns): a misspelt one is refused, not ignored
import foreign schema cognito from server unreachable into offline options (foo 'bar');
\echo :LAST_ERROR_SQLSTATE
-- importing twice is an error, as for any table that exists
import foreign schema cognito from server "Cognito Server" into limited;
-- the demo pool through the imported table
select username, email, status, enabled from limited.users order by username;
