-- Conditions travel to Cognito as a ListUsers filter; EXPLAIN shows what is asked and
-- EXPLAIN ANALYZE how many requests it took. PostgreSQL still checks every condition.
\ir fixtures/wrapper.sql
\ir fixtures/main_server.sql
create foreign table users (username text, email text, status text, enabled boolean,
  sub text, given_name text, family_name text, phone_number text,
  tenant text options (attribute 'custom:tenant'))
  server cognito_server options (object 'users');
create foreign table users_unpushed (username text, email text, status text, enabled boolean)
  server cognito_server options (object 'users', pushdown 'false');
\set an '(costs off, analyze, timing off, summary off, buffers off)'

-- lookups: one request each
explain :an select username, email from users where email = 'user0042@example.com';
select username, email from users where email = 'user0042@example.com';
explain :an select username from users where username = 'user0042';
select sub as the_sub from users where username = 'user0042' \gset
explain :an select username from users where sub = :'the_sub';
select username from users where sub = :'the_sub';
explain :an select username, phone_number from users where phone_number = (select phone_number from users where username = 'user0040');
-- the reference behaviour, for comparison: the whole pool, checked locally
explain :an select username from users_unpushed where email = 'user0042@example.com';

-- the most selective condition is the one sent; the others are checked locally
explain :an select username from users
 where enabled and status = 'CONFIRMED' and given_name like 'Us%' and email = 'user0044@example.com';
-- of two prefixes the longer is sent
explain :an select count(*) from users where username like 'user0%' and username like 'user011%';
-- a prefix, a status, enabled / not enabled
explain :an select count(*) from users where username like 'user00%';
select count(*) from users where username like 'user00%';
explain (costs off) select count(*) from users where status = 'UNCONFIRMED';
select count(*) from users where status = 'UNCONFIRMED';
explain (costs off) select count(*) from users where not enabled;
select count(*) from users where not enabled;
-- IN lists: one request per distinct value, each user once
explain :an select username from users where username in ('user0001', 'user0002', 'user0001', 'nobody');
select username from users where username in ('user0001', 'user0002', 'user0001', 'nobody') order by 1;
-- nothing can equal NULL: no request at all
explain :an select username from users where email = null::text;

-- values that cannot travel the same way to every server stay local: quotes, backslashes,
-- wildcards inside a LIKE pattern, and a case-insensitive match
explain :an select username, family_name from users where family_name = 'O''Brien "the \ one"';
select username, family_name from users where family_name = 'O''Brien "the \ one"';
explain (costs off) select username from users where username like 'user_01%';
explain (costs off) select username from users where username ilike 'USER0001';
explain (costs off) select username from users where tenant = 'acme';

-- parameters: a prepared lookup stays a lookup on its generic plan
set plan_cache_mode = force_generic_plan;
prepare by_email(text) as select username from users where email = $1;
explain (costs off) execute by_email('user0007@example.com');
execute by_email('user0100@example.com');
execute by_email('user0101@example.com');
explain :an execute by_email('user0102@example.com');
-- a parameter whose value cannot travel falls back to listing the pool
explain :an execute by_email('has "quotes"');
-- and a NULL parameter matches nothing: no request
explain :an execute by_email(null);
-- the page size follows what is sent, decided at each run: a generic plan with LIMIT asks one
-- user a page for a value that is sent, full pages of 60 when the value stays local (the pool
-- of 1,200 users in 20 requests, not 1,200)
prepare look(text) as select username from users where email = $1 limit 1;
select format('execute look(%L)', format('user%s@example.com', lpad(n::text, 4, '0')))
  from generate_series(1, 6) n \gexec
explain :an execute look('user0007@example.com');
explain :an execute look('');
explain :an execute look('"');
explain :an execute look('\');
prepare look_like(text) as select username from users where username like $1 limit 1;
explain :an execute look_like('user0042%');
explain :an execute look_like('%0042');
explain :an execute look_like('%nobody');
reset plan_cache_mode;

-- LIMIT: pages are read lazily; with every condition pushed the page shrinks to the limit
explain :an select username from users limit 10;
explain :an select username from users where username like 'user01%' limit 5;
select username from users where username like 'user01%' order by username limit 5;
-- a LIMIT above a local condition reads as many pages as it needs
explain :an select username from users where tenant = 'initech' limit 70;
select count(*) from (select username from users where tenant = 'initech' limit 70) s;
-- ORDER BY ... LIMIT sorts every user first: full pages, not pages of the limit's size
-- (the sort's memory varies from run to run: masked)
create function explain_masked(query text) returns setof text language plpgsql as $$
declare line text;
begin
  for line in execute 'explain (analyze, costs off, timing off, summary off, buffers off) ' || query loop
    return next regexp_replace(line, 'Memory: \d+kB', 'Memory: NkB');
  end loop;
end $$;
select explain_masked('select username from users order by username limit 3');

-- a large pool with nothing to push is read in 16 partitions by sub prefix, several requests
-- in flight at once; every user comes back exactly once. parallel_scan 'on' partitions a large
-- pool whatever the round trip; 'auto' (the default) decides from the measured round trip and
-- rate, which this file cannot pin (see e2e/test_throttling.py and the benchmark for 'auto')
create server big_server foreign data wrapper cognito_wrapper
  options (aws_access_key_id 'AKIAEXAMPLE', aws_secret_access_key 'x', region :'region',
           user_pool_id :'big_pool', endpoint_url :'endpoint', requests_per_second '1000',
           parallel_scan 'on');
create foreign table big_users (username text, sub text) server big_server options (object 'users');
explain :an select count(*) from big_users;
select count(*), count(distinct username), count(distinct left(sub, 1)) as partitions from big_users;
-- parallel_scan 'off' keeps one sequential stream
alter foreign table big_users options (add parallel_scan 'off');
explain :an select count(*) from big_users;
-- the size is remembered per pool, not per server: the same server pointed at the 1,200-user
-- pool asks its size again and reads it in one stream, not in the 8,000-user pool's partitions
create foreign table big_or_main (username text) server big_server options (object 'users');
alter server big_server options (set user_pool_id :'main_pool');
explain :an select count(*) from big_or_main;
alter server big_server options (set user_pool_id :'big_pool');
explain :an select count(*) from big_or_main;
-- ANALYZE records the pool's size (from DescribeUserPool) for every backend's planner
select reltuples from pg_class where oid = 'big_users'::regclass;
analyze big_users;
select reltuples from pg_class where oid = 'big_users'::regclass;
\c
explain select username from big_users;

-- a join from a few local names looks each one up, instead of listing the pool
create temp table names (name text);
insert into names select format('user%s', lpad(n::text, 4, '0')) from generate_series(100, 1100, 100) n;
analyze names;
explain (costs off) select n.name, u.email from names n join users u on u.username = n.name;
explain :an select n.name, u.email from names n join users u on u.username = n.name;
select n.name, u.email from names n join users u on u.username = n.name order by 1;
-- and the plan with a join on a column Cognito cannot filter lists the pool once
explain (costs off) select n.name, u.username from names n join users u on u.tenant = n.name;
-- as does a join on an expression that cannot be sent (lower(n.name)): once, not per name
explain :an select n.name, u.email from names n join users u on u.username = lower(n.name);
select count(*) from names n join users u on u.username = lower(n.name);

-- under a nested loop each run sends its own filter: EXPLAIN counts the distinct ones, and in
-- FORMAT JSON numbers are numbers
create function explain_json(query text) returns jsonb language plpgsql as $$
declare plan jsonb;
begin
  execute 'explain (analyze, costs off, timing off, summary off, format json) ' || query into plan;
  return plan;
end $$;
select key, jsonb_typeof(value) as type, value
  from jsonb_path_query(explain_json('select n.name, u.email from names n join users u on u.username = n.name'),
                        'strict $.**?(@."Node Type" == "Foreign Scan")') as scan,
       jsonb_each(scan)
 where key like 'Cognito%' order by key;

-- without ANALYZE, on a session's first query (nothing known of the pool's size): a join of
-- 20 local names to the 8,000-user pool looks each name up, 20 requests, where listing the
-- pool would take 134
\c
create foreign table big_unanalyzed (username text, email text)
  server big_server options (object 'users');
create temp table some_names (name text);
insert into some_names select format('big%s', lpad(n::text, 5, '0')) from generate_series(400, 8000, 400) n;
analyze some_names;
select reltuples from pg_class where oid = 'big_unanalyzed'::regclass;
explain (analyze, costs off, timing off, summary off, buffers off)
select n.name, u.email from some_names n join big_unanalyzed u on u.username = n.name;
select count(*), min(u.email), max(u.email) from some_names n join big_unanalyzed u on u.username = n.name;
