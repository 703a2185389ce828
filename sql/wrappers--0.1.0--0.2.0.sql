-- Update from 0.1.0 to 0.2.0: ALTER EXTENSION wrappers UPDATE runs this.
-- (cargo pgrx install and package copy this directory's wrappers--OLD--NEW.sql files.)
--
-- The SQL objects of 0.2.0 are those of 0.1.0; what changed is in the library, which the
-- update loads in place of the old one. Any function, type or view a later change adds to
-- the extension must be added here too (or in the next version's script):
-- tests/e2e/test_upgrade.py fails when an updated extension differs from a fresh install.
\echo Use "ALTER EXTENSION wrappers UPDATE TO '0.2.0'" to load this file. \quit
