-- Plans decided once and executed many times: prepared statements, PL/pgSQL, cursors and
-- rescans all give right answers, and the backend lives on.
\ir fixtures/wrapper.sql
\ir fixtures/main_server.sql
create schema cognito;
import foreign schema cognito from server cognito_server into cognito;

-- a prepared SELECT, 20 times: from the sixth run on, PostgreSQL may use its generic plan
set plan_cache_mode = force_generic_plan;
prepare by_prefix(text) as
  select count(*) as users, min(username) as first, max(username) as last
    from cognito.users where username like $1;
select format('execute by_prefix(%L)', 'user00%') from generate_series(1, 20) \gexec
-- the same generic plan with a different value each run: prefixes of several lengths, NULL,
-- and values that cannot be sent (no prefix, a wildcard inside, a quote, a backslash, empty),
-- each answered for its own value
select format('execute by_prefix(%L)', v)
  from unnest(array['user01%', 'user1%', null, 'user0042%', '%', 'user_01%', '%"%', '\%',
                    '', 'user12%', 'nobody%', 'user00%']) v \gexec
-- what each run sent
explain (analyze, costs off, timing off, summary off, buffers off) execute by_prefix('user11%');
explain (analyze, costs off, timing off, summary off, buffers off) execute by_prefix(null);
explain (analyze, costs off, timing off, summary off, buffers off) execute by_prefix('%1');
-- the same answers from a local copy of the pool, without the foreign table
create temp table local_users as select username from cognito.users;
select quote_nullable(v) as value, count(username) as users, min(username) as first, max(username) as last
  from unnest(array['user01%', 'user1%', null, 'user0042%', '%', 'user_01%', '%"%', '\%',
                    '', 'user12%', 'nobody%', 'user00%']) with ordinality as t(v, i)
  left join local_users on username like v
 group by v, i order by i;
reset plan_cache_mode;

-- a PL/pgSQL function with a static query, called 10 times in one statement
create function pool_size() returns bigint language plpgsql as $$
begin
  return (select count(*) from cognito.users);
end $$;
select i, pool_size() from generate_series(1, 10) i;

-- a cursor closed after 5 of many rows; the next query in the same session still works
begin;
declare c cursor for select username from cognito.users;
fetch 5 from c;
close c;
commit;
begin;
declare c2 cursor for select username from cognito.users;
fetch 2 from c2;
rollback;
select count(*) from cognito.users;

-- a nested loop that rescans the foreign table on its inner side, once per outer row
create temp table wanted (name text);
insert into wanted values ('user0003'), ('user0001'), ('nobody'), ('user0002');
analyze wanted;
set enable_hashjoin = off;
set enable_mergejoin = off;
set enable_material = off;
explain (costs off)
select w.name, u.email
  from wanted w, lateral (select * from cognito.users u where u.username = w.name offset 0) u;
select w.name, u.email
  from wanted w, lateral (select * from cognito.users u where u.username = w.name offset 0) u
 order by w.name;
explain (analyze, costs off, timing off, summary off, buffers off)
select w.name, u.email
  from wanted w, lateral (select * from cognito.users u where u.username = w.name offset 0) u;
select w.name, (select u.email from cognito.users u where u.username = w.name) as email
  from wanted w order by w.name;
-- the same with a condition that cannot be pushed: each rescan lists the whole pool again
explain (analyze, costs off, timing off, summary off, buffers off)
select w.name, u.email
  from wanted w, lateral (select * from cognito.users u where lower(u.username) = w.name offset 0) u;
select w.name, u.email
  from wanted w, lateral (select * from cognito.users u where lower(u.username) = w.name offset 0) u
 order by w.name;
reset enable_hashjoin;
reset enable_mergejoin;
reset enable_material;
