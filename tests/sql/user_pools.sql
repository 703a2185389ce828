-- object 'user_pools': the pools of the server's region. ListUserPools (60 a page) gives id,
-- name, status and times; any other column costs one DescribeUserPool per pool, asked only
-- when the query reads one. An id is looked up with DescribeUserPool. No pool is named: the
-- server below has none.
\ir fixtures/wrapper.sql
create server cognito_region foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           endpoint_url :'endpoint');
create schema imported;
import foreign schema cognito limit to (user_pools) from server cognito_region into imported;
\d imported.user_pools
set search_path = imported, public, extensions;
set timezone = 'UTC';
\set an '(costs off, analyze, timing off, summary off, buffers off)'
-- EXPLAIN ANALYZE of a query, with the generated pool ids it sent shown as <pool id>
create function explained(query text) returns setof text language plpgsql as $$
declare line text;
begin
  for line in execute 'explain (costs off, analyze, timing off, summary off, buffers off) ' || query loop
    return next regexp_replace(line, '[a-z]{2}(-[a-z]+)+-[0-9]_[0-9a-f]{32}', '<pool id>', 'g');
  end loop;
end $$;

-- the listed columns: one ListUserPools request for every pool
explain (costs off) select id, name, status, created_at, updated_at from user_pools;
explain :an select id, name, status, created_at, updated_at from user_pools;
select name, status, created_at, updated_at, id like :'region' || '\_%' as id_of_region
  from user_pools order by created_at;
-- every other column: ListUserPools, then DescribeUserPool per pool
explain (costs off) select name, domain from user_pools;
explain :an select name, domain from user_pools;
select name, arn = format('arn:aws:cognito-idp:%s:123456789012:userpool/%s', :'region', id) as arn,
       estimated_number_of_users, mfa_configuration, deletion_protection, user_pool_tier,
       domain, custom_domain, username_attributes
  from user_pools order by created_at;
-- custom attributes: the schema's, without their prefix
select name, jsonb_pretty(custom_attributes) from user_pools where name in ('custom', 'demo')
  order by name;
-- details: DescribeUserPool's UserPool object as sent (an SMS role's external id is no secret)
select details->>'Id' = id as same_pool, details->>'Domain' as domain,
       details->'SmsConfiguration' as sms, details->'UsernameAttributes' as username_attributes,
       jsonb_typeof(details->'SchemaAttributes') as schema
  from user_pools where name = 'configured';
select count(*) filter (where details is null) as without_details,
       count(*) filter (where details->>'Name' = name) as named_alike
  from user_pools;

-- an id: one DescribeUserPool (a generic plan shows $1 rather than the generated id)
set plan_cache_mode = force_generic_plan;
prepare by_id(text) as select name, estimated_number_of_users from user_pools where id = $1;
explain (costs off) execute by_id(:'demo_pool');
select explained(format('execute by_id(%L)', :'demo_pool'));
execute by_id(:'demo_pool');
-- listed columns only: still the one request
prepare name_of(text) as select name from user_pools where id = $1;
select explained(format('execute name_of(%L)', :'typmods_pool'));
execute name_of(:'typmods_pool');
-- an IN list: one request per distinct id
prepare by_ids(text, text, text) as
  select name from user_pools where id in ($1, $2, $3) order by name;
select explained(format('execute by_ids(%L, %L, %L)', :'main_pool', :'empty_pool', :'main_pool'));
execute by_ids(:'main_pool', :'empty_pool', :'main_pool');
-- a pool that does not exist is no row, not an error
explain :an execute by_id(:'region' || '_doesnotexist');
execute by_id(:'region' || '_doesnotexist');
-- an id of another region, or no pool id at all, names no pool listed here: no request
explain :an execute by_id('eu-west-1_AbCdEf123');
explain :an execute by_id('demo');
reset plan_cache_mode;
-- nothing equals NULL: no request
explain :an select * from user_pools where id = null::text;

-- LIMIT is read lazily: one request, of as many pools as asked for
explain :an select name from user_pools limit 2;
select count(*) from (select name from user_pools limit 2) s;
-- a name is not sent (ListUserPools has no filter): listed and checked locally
explain :an select id from user_pools where name = 'demo';
select count(*) from user_pools where name = 'demo';

-- lists may also be jsonb; times timestamptz; numbers text
create foreign table pools_other_types (name text, username_attributes jsonb,
  created_at timestamptz, estimated_number_of_users text)
  server cognito_region options (object 'user_pools');
select * from pools_other_types where name in ('configured', 'demo') order by name;
-- wrong types and unknown columns are refused
create foreign table pools_bad_type (name text, username_attributes text)
  server cognito_region options (object 'user_pools');
select * from pools_bad_type;
create foreign table pools_bad_column (name text, username text)
  server cognito_region options (object 'user_pools');
select * from pools_bad_column;
