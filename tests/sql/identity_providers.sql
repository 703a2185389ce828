-- object 'identity_providers': ListIdentityProviders pages through every provider (60 a
-- page) and gives names, types and dates; attribute_mapping, idp_identifiers and
-- provider_details add one DescribeIdentityProvider per provider. A provider name is looked
-- up with DescribeIdentityProvider, one request per name. PostgreSQL still checks every
-- condition. No column ever holds a secret of a provider's details.
\ir fixtures/wrapper.sql
\ir fixtures/main_server.sql
create schema imported;
import foreign schema cognito limit to (identity_providers) from server cognito_server into imported;
\d imported.identity_providers
set search_path = imported, public, extensions;
set timezone = 'UTC';
\set an '(costs off, analyze, timing off, summary off, buffers off)'

-- every column of every provider; client_secret and private_key are not in provider_details
\x on
select * from identity_providers order by provider_name;
\x off

-- names, types and dates: ListIdentityProviders alone
explain (costs off) select provider_name, provider_type, created_at, updated_at
  from identity_providers;
explain :an select provider_name, provider_type, created_at, updated_at from identity_providers;
select provider_name, provider_type, created_at, updated_at
  from identity_providers order by provider_name;
-- the mapping, identifiers or details: one DescribeIdentityProvider per provider as well
explain (costs off) select provider_name, attribute_mapping from identity_providers;
explain :an select provider_name, attribute_mapping from identity_providers;
-- which providers map given_name, and where does email come from?
select provider_name from identity_providers where attribute_mapping ? 'given_name';
select provider_name, attribute_mapping->>'email' as email_from
  from identity_providers order by 1;

-- a name: one DescribeIdentityProvider
explain (costs off) select * from identity_providers where provider_name = 'ExampleOIDC';
explain :an select * from identity_providers where provider_name = 'ExampleOIDC';
select provider_type, provider_details, attribute_mapping
  from identity_providers where provider_name = 'ExampleOIDC';
-- an IN list: one Describe per distinct name, each provider once
explain :an select provider_name from identity_providers
 where provider_name in ('ExampleSAML', 'Google', 'ExampleSAML');
select provider_name, idp_identifiers from identity_providers
 where provider_name in ('ExampleSAML', 'Google', 'ExampleSAML') order by 1;
-- a provider that does not exist is no row, not an error
explain :an select * from identity_providers where provider_name = 'Nobody';
select * from identity_providers where provider_name = 'Nobody';
-- no provider is named so (over 32 characters): listed, and checked locally
explain :an select provider_name from identity_providers
 where provider_name = 'AVeryLongProviderNameOfThirtyThreeX';
-- nothing equals NULL: no request
explain :an select * from identity_providers where provider_name = null::text;
-- a parameter stays a lookup on the generic plan
set plan_cache_mode = force_generic_plan;
prepare by_name(text) as select provider_type from identity_providers where provider_name = $1;
explain (costs off) execute by_name('Google');
execute by_name('Google');
execute by_name('Nobody');
reset plan_cache_mode;
-- ListIdentityProviders filters on nothing: a type is listed and checked locally
explain :an select provider_name from identity_providers where provider_type = 'SAML';
select provider_name from identity_providers where provider_type = 'SAML';

-- LIMIT is read lazily: one request of 2, and a Describe per row read
explain :an select provider_name from identity_providers limit 2;
explain :an select provider_name, provider_details from identity_providers limit 2;

-- the mapping and details may be json or text, the identifiers jsonb, times timestamptz
create foreign table identity_providers_other_types (provider_name varchar(32),
  created_at timestamptz, attribute_mapping json, idp_identifiers jsonb,
  provider_details text)
  server cognito_server options (object 'identity_providers');
select * from identity_providers_other_types where provider_name = 'ExampleSAML';
-- wrong types and unknown columns are refused
create foreign table identity_providers_bad_type (provider_name text, idp_identifiers text)
  server cognito_server options (object 'identity_providers');
select provider_name from identity_providers_bad_type;
create foreign table identity_providers_bad_column (provider_name text, client_secret text)
  server cognito_server options (object 'identity_providers');
select * from identity_providers_bad_column;
