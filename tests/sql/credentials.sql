-- Credentials: inline, from Vault (by name and by id), and from user mappings, which win over
-- the server and which other roles cannot read.
\ir fixtures/wrapper.sql

-- the documented Vault form, before any Vault exists
create server vault_by_name foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', api_key_id 'cognito', region :'region',
           user_pool_id :'main_pool', endpoint_url :'endpoint');
create foreign table by_name (username text) server vault_by_name options (object 'users');
select count(*) from by_name;
\echo :LAST_ERROR_SQLSTATE

-- a stand-in with Supabase Vault's interface (Vault itself cannot be installed here)
create schema vault;
create table vault.secrets (id uuid primary key default gen_random_uuid(), name text unique,
                            description text, secret text);
create view vault.decrypted_secrets as
  select id, name, description, secret as decrypted_secret from vault.secrets;
create function vault.create_secret(new_secret text, new_name text default null,
                                    new_description text default '') returns uuid
  language sql as $$
    insert into vault.secrets (secret, name, description)
    values (new_secret, new_name, new_description) returning id
  $$;

-- by name, as documented: the secret is not there yet, then it is
select count(*) from by_name;
\echo :LAST_ERROR_SQLSTATE
select vault.create_secret('vault-held-secret', 'cognito', 'Cognito secret key for Wrappers') as secret_id \gset
select count(*) from by_name;
-- a name that two secrets share names neither: which one is meant is not for us to guess
-- (Vault's own table keeps names unique; this stand-in does not)
alter table vault.secrets drop constraint secrets_name_key;
insert into vault.secrets (name, secret) values ('cognito', 'another-secret');
select count(*) from by_name;
\echo :LAST_ERROR_SQLSTATE
delete from vault.secrets where secret = 'another-secret';
-- by id
create server vault_by_id foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', api_key_id :'secret_id', region :'region',
           user_pool_id :'main_pool', endpoint_url :'endpoint');
create foreign table by_id (username text) server vault_by_id options (object 'users');
select count(*) from by_id;

-- a server whose Vault reference is broken
create server mapped foreign data wrapper cognito_wrapper
  options (region :'region', user_pool_id :'main_pool', endpoint_url :'endpoint',
           api_key_id 'no-such-secret', aws_access_key_id 'AKIAEXAMPLE');
create foreign table mapped_users (username text) server mapped options (object 'users');
select count(*) from mapped_users;
\echo :LAST_ERROR_SQLSTATE
-- a mapping for the current role wins over the server's (broken) Vault reference
create user mapping for current_user server mapped
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'mapped-secret');
select count(*) from mapped_users;

-- options stored by an older release never met the validator: they are checked when used
-- (a newline in the key id made the SDK panic: XX000 with a backtrace)
update pg_user_mapping
   set umoptions = array['aws_access_key_id=AKIA' || chr(10) || 'EXAMPLE',
                         'aws_secret_access_key=mapped-secret']
 where umserver = (select oid from pg_foreign_server where srvname = 'mapped')
   and umuser = (select oid from pg_roles where rolname = current_user);
select count(*) from mapped_users;
\echo :LAST_ERROR_SQLSTATE
alter user mapping for current_user server mapped options (set aws_access_key_id 'AKIAEXAMPLE');
select count(*) from mapped_users;

-- another role has no mapping of its own: the server's broken credentials apply to it, until
-- a PUBLIC mapping gives it some; it cannot read the options of any mapping
create role cognito_reader;
grant select on mapped_users to cognito_reader;
set role cognito_reader;
select count(*) from mapped_users;
\echo :LAST_ERROR_SQLSTATE
reset role;
create user mapping for public server mapped
  options (aws_access_key_id 'AKIAEXAMPLE', api_key_id 'cognito');
grant usage on schema vault to cognito_reader;
grant select on vault.decrypted_secrets to cognito_reader;
set role cognito_reader;
select count(*) from mapped_users;
select usename, umoptions from pg_user_mappings where srvname = 'mapped' order by usename;
reset role;
select usename, umoptions from pg_user_mappings where srvname = 'mapped' order by usename;
drop owned by cognito_reader;
drop role cognito_reader;
-- no credentials anywhere
create server bare foreign data wrapper cognito_wrapper
  options (region :'region', user_pool_id :'main_pool', endpoint_url :'endpoint');
create foreign table bare_users (username text) server bare options (object 'users');
select count(*) from bare_users;
\echo :LAST_ERROR_SQLSTATE
