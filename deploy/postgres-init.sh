#!/bin/sh
# One database and one owner per service, so no service can read another's data.
# Passwords come from <SERVICE>_DB_PASSWORD (development defaults: the service's name).
set -eu
for service in $TOLLGATE_DATABASES; do
  password_var=$(echo "${service}_DB_PASSWORD" | tr '[:lower:]-' '[:upper:]_')
  password=$(eval "echo \${$password_var:-$service}")
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE USER "$service" WITH PASSWORD '$password';
CREATE DATABASE "tollgate_$service" OWNER "$service";
SQL
done
