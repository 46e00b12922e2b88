#!/bin/sh
# First start of the postgres container only (docker-entrypoint-initdb.d): the BI database and its roles.
#   cti_publish  writes the marts (CTI_PUBLISH_URL); owns schema marts
#   cti_bi       reads them (Power BI, Metabase, Superset)
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v publish_password="$CTI_PUBLISH_PASSWORD" -v bi_password="$CTI_BI_PASSWORD" <<'SQL'
CREATE ROLE cti_publish LOGIN PASSWORD :'publish_password';
CREATE ROLE cti_bi LOGIN PASSWORD :'bi_password';
CREATE DATABASE cti_bi OWNER cti_publish;
\connect cti_bi
SET ROLE cti_publish;
CREATE SCHEMA marts;
GRANT USAGE ON SCHEMA marts TO cti_bi;
ALTER DEFAULT PRIVILEGES FOR ROLE cti_publish IN SCHEMA marts GRANT SELECT ON TABLES TO cti_bi;
SQL
