-- The documented set-up, statement for statement, on stock PostgreSQL (plus endpoint_url).
\set SHOW_CONTEXT never
create schema if not exists extensions;
create extension if not exists wrappers with schema extensions;
-- stock PostgreSQL: put the extensions schema on the search_path, as the hosted platform does
set search_path = "$user", public, extensions;

create foreign data wrapper cognito_wrapper
  handler cognito_fdw_handler
  validator cognito_fdw_validator;

create server cognito_server
  foreign data wrapper cognito_wrapper
  options (
    aws_access_key_id 'AKIAEXAMPLE',
    aws_secret_access_key 'documented-secret',
    region :'region',
    user_pool_id :'main_pool',
    endpoint_url :'endpoint'
  );

create schema if not exists cognito;
import foreign schema cognito from server cognito_server into cognito;
\d cognito.users
select ftoptions from pg_foreign_table where ftrelid = 'cognito.users'::regclass;

-- every user of the pool, once
select count(*), count(distinct username) from cognito.users;
-- the first users as the emulator holds them
-- (the emulator dates user N at 2024-01-01 00:00 plus N minutes, modified 30 s later)
select username, email, status, enabled, created_at, updated_at
  from cognito.users order by username limit 8;
-- quirks: users without email, disabled, by status
select count(*) filter (where email is null) as without_email,
       count(*) filter (where not enabled) as disabled,
       count(distinct status) as statuses
  from cognito.users;
select status, count(*) from cognito.users group by status order by status;
-- attributes is a JSON object: every user has a sub, and it matches the sub key's shape
select count(*) from cognito.users
 where attributes->>'sub' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
select jsonb_typeof(attributes) as kind, count(*) from cognito.users group by 1;
-- non-ASCII text and values with quotes and backslashes come back intact
select username, attributes->>'given_name' as given_name, attributes->>'family_name' as family_name
  from cognito.users
 where attributes->>'given_name' !~ '^[ -~]*$' or attributes->>'family_name' ~ '["''\\]'
 order by username;
-- an empty pool is an empty table
create server empty_server foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'empty_pool', endpoint_url :'endpoint');
create foreign table empty_users (username text) server empty_server options (object 'users');
select count(*) from empty_users;
