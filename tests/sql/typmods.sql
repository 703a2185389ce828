-- Type modifiers and domains: every value is held to its column's declared type the way
-- PostgreSQL's input functions hold it. The typmods pool has four users, in this order:
--   username  given_name  custom:code  created (UTC)             modified (UTC)
--   ann       'Ann'       'ab'         2024-06-30 23:59:59.500   2024-06-30 23:59:59.499
--   bo        'Bo  '      'abcde'      2024-01-01 12:34:56.789   2024-01-01 12:34:56.790
--   zoë       'Zoë'       'ab   '      1999-12-31 23:59:59.999   2000-01-01 00:00:00
--   mallory   'Mallory'   (none)       2024-02-29 08:00:00.001   2024-03-01 08:00:00.005
\set SHOW_CONTEXT never
create schema if not exists extensions;
create extension if not exists wrappers with schema extensions;
set search_path = public, extensions;
set timezone = 'UTC';
set datestyle = 'ISO, YMD';
create foreign data wrapper cognito_wrapper handler cognito_fdw_handler validator cognito_fdw_validator;
create server typmods foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'typmods_pool', endpoint_url :'endpoint');
-- the values as sent, in types without a modifier: text, boolean, timestamp(tz), jsonb
create foreign table exact (username text, given_name varchar, code text options (attribute 'custom:code'),
  enabled boolean, created_at timestamp, updated_at timestamptz, attributes jsonb)
  server typmods options (object 'users');
select username, given_name, code, enabled, created_at, updated_at, attributes->>'given_name' as attr
  from exact;

-- varchar(n) counts characters, not bytes ('zoë' is 4 bytes); a longer value is PostgreSQL's
-- own error (22001), unless only blanks are cut ('Bo  ' becomes 'Bo ', 'ab   ' 'ab ')
create foreign table v (username varchar(3), given_name varchar(3), code varchar(3) options (attribute 'custom:code'))
  server typmods options (object 'users');
select username, format('[%s]', given_name) as given_name, format('[%s]', code) as code
  from v where username in ('ann', 'zoë');
select format('[%s]', given_name) as given_name from v where username = 'bo';
select code from v where username = 'bo';
\echo :LAST_ERROR_SQLSTATE
select username from v;
\echo :LAST_ERROR_SQLSTATE
-- the same in a text column of a time: its ISO 8601 text does not fit 10 characters
create foreign table v_time (username text, created_at varchar(10)) server typmods options (object 'users');
select created_at from v_time;
\echo :LAST_ERROR_SQLSTATE

-- char(n) pads with blanks, as char input does, and refuses what is too long
create foreign table c (username char(7), given_name char(7), code char(5) options (attribute 'custom:code'))
  server typmods options (object 'users');
select format('[%s]', username) as username, octet_length(username) as bytes,
       format('[%s]', given_name) as given_name, format('[%s]', code) as code
  from c;
create foreign table c_short (username char(4)) server typmods options (object 'users');
select username from c_short;
\echo :LAST_ERROR_SQLSTATE

-- timestamp(p) and timestamptz(p) round to p digits, half away from zero, as their input does:
-- each equals PostgreSQL's own cast of the exact value
create foreign table t0 (username text, created_at timestamp(0), updated_at timestamptz(0))
  server typmods options (object 'users');
create foreign table t2 (username text, created_at timestamp(2), updated_at timestamptz(1))
  server typmods options (object 'users');
select username, t0.created_at as created_0, t2.created_at as created_2,
       t0.updated_at as updated_0, t2.updated_at as updated_1
  from t0 join t2 using (username) order by username;
select count(*) as users,
       count(*) filter (where t0.created_at = e.created_at::timestamp(0)
                          and t0.updated_at = e.updated_at::timestamptz(0)
                          and t2.created_at = e.created_at::timestamp(2)
                          and t2.updated_at = e.updated_at::timestamptz(1)) as as_postgres_casts
  from exact e join t0 using (username) join t2 using (username);

-- CREATE TABLE AS carries values that fit their own column types
create foreign table mixed (username varchar(7), given_name varchar(7), code varchar(5) options (attribute 'custom:code'),
  created_at timestamp(0), updated_at timestamptz(0))
  server typmods options (object 'users');
create table copied as select * from mixed;
\d copied
select count(*) as users,
       count(*) filter (where created_at = date_trunc('second', created_at)
                          and updated_at = date_trunc('second', updated_at)) as whole_seconds,
       max(length(given_name)) as longest_name, max(length(code)) as longest_code
  from copied;

-- domains: the base type's modifier, then the domain's constraints, as the domain's input does
create domain short_name as varchar(3) check (value <> 'bo');
create domain whole_second as timestamp(0);
create domain required_code as text not null;
create domain has_sub as jsonb check (value ? 'sub');
create foreign table d (username short_name, created_at whole_second, attributes has_sub)
  server typmods options (object 'users');
select username, created_at, attributes ? 'sub' as has_sub from d where username in ('ann', 'zoë');
select username from d where username = 'bo';
\echo :LAST_ERROR_SQLSTATE
select username from d where username = 'mallory';
\echo :LAST_ERROR_SQLSTATE
create foreign table d_code (username text, code required_code options (attribute 'custom:code'))
  server typmods options (object 'users');
select username, code from d_code where username = 'ann';
select username, code from d_code;
\echo :LAST_ERROR_SQLSTATE
-- a domain over a type the field cannot take is refused when planned, like its base type
create domain flag as integer;
create foreign table d_bad (username text, enabled flag) server typmods options (object 'users');
select username from d_bad;
\echo :LAST_ERROR_SQLSTATE
