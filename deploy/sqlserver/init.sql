-- Run once by `sqlserver-init` (compose.yaml) and the `sqlserver-init` Job (Kubernetes), as sa,
-- and safe to repeat: the reporting database and the login the services use. The services create
-- and migrate their tables themselves (CONTRACT §2). $(MES_SQL_PASSWORD) is a sqlcmd variable,
-- taken from the environment variable of the same name.
IF DB_ID(N'mes') IS NULL
  CREATE DATABASE [mes];
GO
IF SUSER_ID(N'mes') IS NULL
  CREATE LOGIN [mes] WITH PASSWORD = N'$(MES_SQL_PASSWORD)', DEFAULT_DATABASE = [mes], CHECK_POLICY = ON;
ELSE
  ALTER LOGIN [mes] WITH PASSWORD = N'$(MES_SQL_PASSWORD)';
GO
USE [mes];
IF USER_ID(N'mes') IS NULL
  CREATE USER [mes] FOR LOGIN [mes];
-- The projections service creates and migrates its own tables in this database.
ALTER ROLE db_owner ADD MEMBER [mes];
GO
