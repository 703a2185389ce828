-- The validator on credential sources, roles, TLS and proxies: each mistake refused with its
-- SQLSTATE, no secret (key, external id, proxy password) ever echoed.
\ir fixtures/wrapper.sql

-- credentials: 'options' or 'aws', in any case; 'aws' takes no key options
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', credentials 'environment');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', credentials 'aws',
           aws_access_key_id 'AKIA-NOT-SHOWN', aws_secret_access_key 'SECRET-NOT-SHOWN');
\echo :LAST_ERROR_SQLSTATE
create server s foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', credentials 'AWS');
create user mapping for current_user server s options (credentials 'aws', api_key_id 'v');
\echo :LAST_ERROR_SQLSTATE
-- roles: an ARN's shape; external_id and role_session_name go with a role_arn
create user mapping for current_user server s options (role_arn 'arn:aws:iam::123:role/x');
\echo :LAST_ERROR_SQLSTATE
create user mapping for current_user server s options (external_id 'EXTERNAL-ID-NOT-SHOWN');
\echo :LAST_ERROR_SQLSTATE
create user mapping for current_user server s
  options (credentials 'aws', role_arn 'arn:aws:iam::123456789012:role/reader',
           role_session_name 'not a session name');
\echo :LAST_ERROR_SQLSTATE
create user mapping for current_user server s
  options (credentials 'aws', role_arn 'arn:aws:iam::123456789012:role/reader',
           external_id 'EXTERNAL-ID-NOT-SHOWN', role_session_name 'db.reader@example');
-- TLS and proxies: an absolute ca_file; a proxy URL checked without showing it
alter server s options (add ca_file 'ca.pem');
\echo :LAST_ERROR_SQLSTATE
alter server s options (add https_proxy 'socks5://user:PASSWORD-NOT-SHOWN@127.0.0.1:1080');
\echo :LAST_ERROR_SQLSTATE
alter server s options (add https_proxy 'http://user:PASSWORD-NOT-SHOWN@127.0.0.1:3128',
                        add no_proxy '.internal,10.0.0.0/8', add ca_file '/etc/ssl/private-ca.pem',
                        add sts_endpoint_url 'https://sts.us-east-1.amazonaws.com');
alter server s options (set sts_endpoint_url 'sts.amazonaws.com');
\echo :LAST_ERROR_SQLSTATE
select option, valid_in, default_value from cognito_fdw_options()
 where option in ('credentials', 'role_arn', 'external_id', 'role_session_name',
                  'sts_endpoint_url', 'ca_file', 'https_proxy', 'no_proxy');
-- only a superuser may choose the server process's credentials or a file it reads
create role regress_creds_plain;
grant usage on foreign data wrapper cognito_wrapper to regress_creds_plain;
set role regress_creds_plain;
create server mine foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', credentials 'aws');
\echo :LAST_ERROR_SQLSTATE
create server mine foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', ca_file '/etc/passwd');
\echo :LAST_ERROR_SQLSTATE
create server mine foreign data wrapper cognito_wrapper
  options (region 'us-east-1', user_pool_id 'us-east-1_Pool1', credentials 'options');
alter server mine options (set credentials 'aws');
\echo :LAST_ERROR_SQLSTATE
create user mapping for current_user server mine options (credentials 'aws');
\echo :LAST_ERROR_SQLSTATE
reset role;
drop server mine;
drop server s cascade;
revoke usage on foreign data wrapper cognito_wrapper from regress_creds_plain;
drop role regress_creds_plain;
