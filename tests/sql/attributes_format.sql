-- attributes_format: the attributes column as an object (the default) or, for queries written
-- for the hosted wrapper, as its array of one-key objects. sub is random, so it is left out.
\ir fixtures/wrapper.sql
create server demo foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'demo_pool', endpoint_url :'endpoint', use_remote_estimate 'false');
create foreign table as_object (username text, attributes jsonb)
  server demo options (object 'users');
create foreign table as_array (username text, attributes jsonb)
  server demo options (object 'users', attributes_format 'array');
select username, attributes - 'sub' as attributes
  from as_object where username in ('alice', 'bob') order by username;
select username, jsonb_typeof(attributes),
       (select jsonb_agg(e) from jsonb_array_elements(attributes) e where not e ? 'sub') as attributes
  from as_array where username in ('alice', 'bob') order by username;
-- a query written for the hosted wrapper's shape
select username from as_array
 where attributes @> '[{"custom:tenant": "acme"}]' order by username;
select count(*) from as_array where jsonb_array_length(attributes) = 6;
-- json and text columns take the same shape
create foreign table as_text (username text, attributes text)
  server demo options (object 'users', attributes_format 'ARRAY');
select left(attributes, 1) as starts from as_text where username = 'alice';
-- the format is a table option, checked, and switched by ALTER
create foreign table bad_format (username text) server demo options (object 'users', attributes_format 'list');
\echo :LAST_ERROR_SQLSTATE
alter foreign table as_array options (set attributes_format 'object');
select jsonb_typeof(attributes) from as_array where username = 'alice';
