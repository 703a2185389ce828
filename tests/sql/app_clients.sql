-- object 'app_clients': ListUserPoolClients pages through every client (60 a page) and gives
-- only ids and names; any other column adds one DescribeUserPoolClient per client. A client
-- id is looked up with DescribeUserPoolClient, one request per id. PostgreSQL still checks
-- every condition. No column ever holds a client's secret.
\ir fixtures/wrapper.sql
\ir fixtures/main_server.sql
create schema imported;
import foreign schema cognito limit to (app_clients) from server cognito_server into imported;
\d imported.app_clients
set search_path = imported, public, extensions;
set timezone = 'UTC';
\set an '(costs off, analyze, timing off, summary off, buffers off)'

-- every column of the five named clients (ids are fixed by the seed): one Describe per id
\x on
select * from app_clients
 where client_id in ('aixdlinuuqzoy3ezovln3yo2c6', 'esc8sqzvueq4atq2t5n2u1u9vy',
                     'qvnznoy3dwic5pe3xm2kemes36', '47tvjjn5nnrzhwgblpk1qiuk4w',
                     'uw2r2l0o70mmue1abfgxcm4ttm')
 order by client_name;
\x off

-- ids and names only: ListUserPoolClients alone, 64 clients in two pages
explain (costs off) select client_id, client_name from app_clients;
explain :an select client_id, client_name from app_clients;
select count(*), count(distinct client_id), count(client_name) from app_clients;
-- any other column: one DescribeUserPoolClient per client as well
explain (costs off) select client_name, has_secret from app_clients;
explain :an select client_name, has_secret from app_clients;
-- audits over every client
select count(*) filter (where has_secret) as with_secret,
       count(*) filter (where 'implicit' = any(allowed_oauth_flows)) as implicit_flow,
       string_agg(client_name, ', ' order by client_name)
         filter (where 'ExampleOIDC' = any(supported_identity_providers)) as oidc_clients,
       count(*) filter (where cardinality(callback_urls) = 0) as no_callback,
       count(*) filter (where details ? 'ClientSecret') as secret_in_details,
       min(created_at) as first_created, max(updated_at) as last_updated
  from app_clients;

-- an id: one DescribeUserPoolClient
explain (costs off) select * from app_clients where client_id = 'aixdlinuuqzoy3ezovln3yo2c6';
explain :an select * from app_clients where client_id = 'aixdlinuuqzoy3ezovln3yo2c6';
select client_name, callback_urls, details->'AllowedOAuthScopes' as scopes
  from app_clients where client_id = 'aixdlinuuqzoy3ezovln3yo2c6';
-- an IN list: one Describe per distinct id, each client once; names only cost the same
explain :an select client_name from app_clients
 where client_id in ('esc8sqzvueq4atq2t5n2u1u9vy', 'uw2r2l0o70mmue1abfgxcm4ttm',
                     'esc8sqzvueq4atq2t5n2u1u9vy');
select client_name from app_clients
 where client_id in ('esc8sqzvueq4atq2t5n2u1u9vy', 'uw2r2l0o70mmue1abfgxcm4ttm',
                     'esc8sqzvueq4atq2t5n2u1u9vy')
 order by 1;
-- a client that does not exist is no row, not an error
explain :an select * from app_clients where client_id = 'nosuchclient0000000000000';
select * from app_clients where client_id = 'nosuchclient0000000000000';
-- no client has such an id (AWS would refuse it as a parameter): no request, no row
explain :an select * from app_clients where client_id = 'not-an-id';
select * from app_clients where client_id = 'not-an-id';
-- nothing equals NULL: no request
explain :an select * from app_clients where client_id = null::text;
-- a parameter stays a lookup on the generic plan
set plan_cache_mode = force_generic_plan;
prepare by_id(text) as select client_name, has_secret from app_clients where client_id = $1;
explain (costs off) execute by_id('47tvjjn5nnrzhwgblpk1qiuk4w');
execute by_id('47tvjjn5nnrzhwgblpk1qiuk4w');
execute by_id('nosuchclient0000000000000');
reset plan_cache_mode;
-- ListUserPoolClients filters on nothing: a name is listed and checked locally
explain :an select client_id from app_clients where client_name = 'legacy-spa';
select client_id from app_clients where client_name = 'legacy-spa';

-- LIMIT is read lazily: one ListUserPoolClients request of 3, and a Describe per row read
explain :an select client_name from app_clients limit 3;
explain :an select client_name, created_at from app_clients limit 3;
select client_name, has_secret from app_clients limit 3;

-- lists may be jsonb or json; times timestamptz or text; has_secret text; details json or text
create foreign table app_clients_other_types (client_id varchar(26), client_name text,
  created_at timestamptz, updated_at text, callback_urls jsonb, logout_urls json,
  has_secret text, details text)
  server cognito_server options (object 'app_clients');
select client_name, created_at, updated_at, callback_urls, logout_urls, has_secret,
       details::jsonb->>'ClientName' as name_in_details
  from app_clients_other_types where client_id = 'aixdlinuuqzoy3ezovln3yo2c6';
-- wrong types and unknown columns are refused
create foreign table app_clients_bad_type (client_id text, callback_urls text)
  server cognito_server options (object 'app_clients');
select client_id from app_clients_bad_type;
create foreign table app_clients_bad_flag (client_id text, has_secret integer)
  server cognito_server options (object 'app_clients');
select client_id from app_clients_bad_flag;
create foreign table app_clients_secret (client_id text, client_secret text)
  server cognito_server options (object 'app_clients');
select * from app_clients_secret;

-- a join of two ids: reading a described column, each id is looked up (one Describe each),
-- where listing would cost 2 pages and 64 Describes; reading only ids and names, the two
-- pages of the listing are cheaper than a request per id
create temp table wanted (id text);
insert into wanted values ('aixdlinuuqzoy3ezovln3yo2c6'), ('esc8sqzvueq4atq2t5n2u1u9vy');
analyze wanted;
explain :an select c.client_name, c.callback_urls from wanted w
  join app_clients c on c.client_id = w.id;
explain (costs off) select c.client_name from wanted w join app_clients c on c.client_id = w.id;
