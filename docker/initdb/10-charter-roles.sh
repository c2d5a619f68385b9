#!/bin/sh
# The roles of docs/operations.md ("Database roles") and the database, on the first start of an empty
# volume. Passwords are psql variables, so they are quoted by psql, never spliced into SQL text.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres --dbname postgres \
    -v owner_password="$OWNER_PASSWORD" -v app_password="$APP_PASSWORD" <<'SQL'
CREATE ROLE charter_owner LOGIN CREATEROLE PASSWORD :'owner_password';
CREATE ROLE charter_app NOLOGIN;
CREATE ROLE charter LOGIN PASSWORD :'app_password' IN ROLE charter_app;
CREATE ROLE charter_definer NOLOGIN;
GRANT charter_definer TO charter_owner;
CREATE DATABASE charter OWNER charter_owner;
SQL
