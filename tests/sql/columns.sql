-- Columns: the documented ones, standard attributes by name, any attribute by option, and
-- types checked before any request (this server's endpoint never answers).
\ir fixtures/wrapper.sql
create server live foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'main_pool', endpoint_url :'endpoint');
create server silent foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'main_pool', endpoint_url :'silent_endpoint', request_timeout_ms '60000');

-- wrong types fail at once, naming the column and the types it accepts
create foreign table bad_enabled (username text, enabled int) server silent options (object 'users');
select * from bad_enabled;
\echo :LAST_ERROR_SQLSTATE
create foreign table bad_created (created_at date) server silent options (object 'users');
select * from bad_created;
\echo :LAST_ERROR_SQLSTATE
create foreign table bad_attributes (attributes text[]) server silent options (object 'users');
select * from bad_attributes;
\echo :LAST_ERROR_SQLSTATE
-- unknown column
create foreign table bad_name (username text, shoe_size text) server silent options (object 'users');
select username from bad_name;
\echo :LAST_ERROR_SQLSTATE
-- and a plain EXPLAIN makes no request either
explain (costs off) select * from bad_name;
create foreign table silent_users (username text) server silent options (object 'users');
explain (costs off) select * from silent_users;

-- standard attributes by name, any attribute by option, timestamptz, json and varchar
create foreign table users_wide (
  username varchar(64),
  sub text,
  email text,
  email_verified boolean,
  given_name text,
  family_name text,
  phone_number text,
  tenant text options (attribute 'custom:tenant'),
  enabled boolean,
  created_at timestamptz,
  updated_at timestamptz,
  attributes json
) server live options (object 'users');
select count(*) = count(sub) as every_user_has_sub,
       bool_and(sub = (attributes::jsonb)->>'sub') as sub_matches_attributes,
       bool_and(email is not distinct from (attributes::jsonb)->>'email') as email_matches,
       bool_and(tenant is not distinct from (attributes::jsonb)->>'custom:tenant') as tenant_matches,
       bool_and(created_at <= now()) as created_in_past
  from users_wide;
select email_verified, count(*) from users_wide group by 1 order by 1;
select tenant, count(*) from users_wide where tenant is not null group by 1 order by 1;
-- timestamp (UTC) and timestamptz name the same instant
create foreign table users_utc (username text, created_at timestamp) server live options (object 'users');
set timezone = 'America/New_York';
select count(*) as same_instant
  from users_utc u join users_wide w using (username)
 where u.created_at = w.created_at at time zone 'UTC';
reset timezone;
-- a value the declared type cannot take fails the query, naming the user and the column
create foreign table users_odd (username text, tenant boolean options (attribute 'custom:tenant'))
  server live options (object 'users');
select * from users_odd where username = 'user0003';
\echo :LAST_ERROR_SQLSTATE
-- dropped columns are skipped
alter foreign table users_wide drop column phone_number;
select count(*), count(given_name) > 0 as has_names from users_wide;
-- a query converts only the columns it reads: tenant's bad values fail only the queries that
-- read tenant (in the select list, a condition, or a whole-row reference)
select username from users_odd where username = 'user0003';
select count(*) from users_odd;
select count(*) from users_odd where tenant;
\echo :LAST_ERROR_SQLSTATE
select username from users_odd where username = 'user0003' order by tenant;
\echo :LAST_ERROR_SQLSTATE
select u from users_odd u where username = 'user0003';
\echo :LAST_ERROR_SQLSTATE
select count(*) from users_odd a join users_odd b using (username) where a.username like 'user000%';
-- every field may be text: times as ISO 8601 in UTC (as PostgreSQL prints a timestamptz under
-- TimeZone UTC), enabled as true/false, attributes as their JSON object
create foreign table users_text (username varchar, status text, enabled text, created_at text,
  updated_at text, email_verified text, attributes text) server live options (object 'users');
select * from users_text where username = 'user0005';
set timezone = 'UTC';
set datestyle = 'ISO, YMD';
select count(*) as users,
       count(*) filter (where t.created_at = w.created_at::text and t.updated_at = w.updated_at::text
                          and t.enabled = w.enabled::text
                          and t.email_verified is not distinct from w.email_verified::text
                          and t.attributes::jsonb = w.attributes::jsonb) as as_postgres_prints
  from users_text t join users_wide w using (username);
reset timezone;
reset datestyle;
