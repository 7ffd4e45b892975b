//! The columns of every virtual relation: PostgreSQL 15's names and types, in its order.
//!
//! Only the columns clients read are listed (every column psql's `describe.c` touches,
//! the drivers' metadata queries, pgbench's probe); transaction-id columns (`xid`) and
//! `anyarray` statistics columns are left out. `aclitem[]` is `text[]`, `pg_node_tree` is
//! `text` (FerrisDB stores expressions as SQL text), `int2vector` / `oidvector` are
//! `int2[]` / `oid[]` ([`crate::array`]).

use crate::array;
use crate::types::{DataType, OidKind};

pub type Columns = &'static [(&'static str, DataType)];

const OID: DataType = DataType::Oid(OidKind::Oid);
const REGPROC: DataType = DataType::Oid(OidKind::RegProc);
const NAME: DataType = DataType::Name;
const CHAR: DataType = DataType::InternalChar;
const BOOL: DataType = DataType::Bool;
const INT2: DataType = DataType::Int2;
const INT4: DataType = DataType::Int4;
const INT8: DataType = DataType::Int8;
const FLOAT4: DataType = DataType::Float4;
const TEXT: DataType = DataType::Text;
const BYTEA: DataType = DataType::Bytea;
const TSTZ: DataType = DataType::TimestampTz;
const TEXTS: DataType = DataType::Array(&array::TEXT);
const OIDS: DataType = DataType::Array(&array::OID);
const REGTYPES: DataType = DataType::Array(&array::REGTYPE);
const INT2S: DataType = DataType::Array(&array::INT2);
const CHARS: DataType = DataType::Array(&array::CHAR);

pub static PG_NAMESPACE: Columns = &[
    ("oid", OID),
    ("nspname", NAME),
    ("nspowner", OID),
    ("nspacl", TEXTS),
];

pub static PG_CLASS: Columns = &[
    ("oid", OID),
    ("relname", NAME),
    ("relnamespace", OID),
    ("reltype", OID),
    ("reloftype", OID),
    ("relowner", OID),
    ("relam", OID),
    ("relfilenode", OID),
    ("reltablespace", OID),
    ("relpages", INT4),
    ("reltuples", FLOAT4),
    ("relallvisible", INT4),
    ("reltoastrelid", OID),
    ("relhasindex", BOOL),
    ("relisshared", BOOL),
    ("relpersistence", CHAR),
    ("relkind", CHAR),
    ("relnatts", INT2),
    ("relchecks", INT2),
    ("relhasrules", BOOL),
    ("relhastriggers", BOOL),
    ("relhassubclass", BOOL),
    ("relrowsecurity", BOOL),
    ("relforcerowsecurity", BOOL),
    ("relispopulated", BOOL),
    ("relreplident", CHAR),
    ("relispartition", BOOL),
    ("relrewrite", OID),
    ("relacl", TEXTS),
    ("reloptions", TEXTS),
    ("relpartbound", TEXT),
];

pub static PG_ATTRIBUTE: Columns = &[
    ("attrelid", OID),
    ("attname", NAME),
    ("atttypid", OID),
    ("attstattarget", INT4),
    ("attlen", INT2),
    ("attnum", INT2),
    ("attndims", INT4),
    ("attcacheoff", INT4),
    ("atttypmod", INT4),
    ("attbyval", BOOL),
    ("attalign", CHAR),
    ("attstorage", CHAR),
    ("attcompression", CHAR),
    ("attnotnull", BOOL),
    ("atthasdef", BOOL),
    ("atthasmissing", BOOL),
    ("attidentity", CHAR),
    ("attgenerated", CHAR),
    ("attisdropped", BOOL),
    ("attislocal", BOOL),
    ("attinhcount", INT4),
    ("attcollation", OID),
    ("attacl", TEXTS),
    ("attoptions", TEXTS),
    ("attfdwoptions", TEXTS),
];

pub static PG_TYPE: Columns = &[
    ("oid", OID),
    ("typname", NAME),
    ("typnamespace", OID),
    ("typowner", OID),
    ("typlen", INT2),
    ("typbyval", BOOL),
    ("typtype", CHAR),
    ("typcategory", CHAR),
    ("typispreferred", BOOL),
    ("typisdefined", BOOL),
    ("typdelim", CHAR),
    ("typrelid", OID),
    ("typsubscript", REGPROC),
    ("typelem", OID),
    ("typarray", OID),
    ("typinput", REGPROC),
    ("typoutput", REGPROC),
    ("typreceive", REGPROC),
    ("typsend", REGPROC),
    ("typmodin", REGPROC),
    ("typmodout", REGPROC),
    ("typanalyze", REGPROC),
    ("typalign", CHAR),
    ("typstorage", CHAR),
    ("typnotnull", BOOL),
    ("typbasetype", OID),
    ("typtypmod", INT4),
    ("typndims", INT4),
    ("typcollation", OID),
    ("typdefaultbin", TEXT),
    ("typdefault", TEXT),
    ("typacl", TEXTS),
];

pub static PG_INDEX: Columns = &[
    ("indexrelid", OID),
    ("indrelid", OID),
    ("indnatts", INT2),
    ("indnkeyatts", INT2),
    ("indisunique", BOOL),
    ("indnullsnotdistinct", BOOL),
    ("indisprimary", BOOL),
    ("indisexclusion", BOOL),
    ("indimmediate", BOOL),
    ("indisclustered", BOOL),
    ("indisvalid", BOOL),
    ("indcheckxmin", BOOL),
    ("indisready", BOOL),
    ("indislive", BOOL),
    ("indisreplident", BOOL),
    ("indkey", INT2S),
    ("indcollation", OIDS),
    ("indclass", OIDS),
    ("indoption", INT2S),
    ("indexprs", TEXT),
    ("indpred", TEXT),
];

pub static PG_CONSTRAINT: Columns = &[
    ("oid", OID),
    ("conname", NAME),
    ("connamespace", OID),
    ("contype", CHAR),
    ("condeferrable", BOOL),
    ("condeferred", BOOL),
    ("convalidated", BOOL),
    ("conrelid", OID),
    ("contypid", OID),
    ("conindid", OID),
    ("conparentid", OID),
    ("confrelid", OID),
    ("confupdtype", CHAR),
    ("confdeltype", CHAR),
    ("confmatchtype", CHAR),
    ("conislocal", BOOL),
    ("coninhcount", INT4),
    ("connoinherit", BOOL),
    ("conkey", INT2S),
    ("confkey", INT2S),
    ("conpfeqop", OIDS),
    ("conppeqop", OIDS),
    ("conffeqop", OIDS),
    ("confdelsetcols", INT2S),
    ("conexclop", OIDS),
    ("conbin", TEXT),
];

pub static PG_ATTRDEF: Columns = &[
    ("oid", OID),
    ("adrelid", OID),
    ("adnum", INT2),
    ("adbin", TEXT),
];

pub static PG_LANGUAGE: Columns = &[
    ("oid", OID),
    ("lanname", NAME),
    ("lanowner", OID),
    ("lanispl", BOOL),
    ("lanpltrusted", BOOL),
    ("lanplcallfoid", OID),
    ("laninline", OID),
    ("lanvalidator", OID),
    ("lanacl", TEXTS),
];

pub static PG_AM: Columns = &[
    ("oid", OID),
    ("amname", NAME),
    ("amhandler", REGPROC),
    ("amtype", CHAR),
];

pub static PG_DATABASE: Columns = &[
    ("oid", OID),
    ("datname", NAME),
    ("datdba", OID),
    ("encoding", INT4),
    ("datlocprovider", CHAR),
    ("datistemplate", BOOL),
    ("datallowconn", BOOL),
    ("datconnlimit", INT4),
    ("dattablespace", OID),
    ("datcollate", TEXT),
    ("datctype", TEXT),
    ("daticulocale", TEXT),
    ("datcollversion", TEXT),
    ("datacl", TEXTS),
];

pub static PG_ROLES: Columns = &[
    ("rolname", NAME),
    ("rolsuper", BOOL),
    ("rolinherit", BOOL),
    ("rolcreaterole", BOOL),
    ("rolcreatedb", BOOL),
    ("rolcanlogin", BOOL),
    ("rolreplication", BOOL),
    ("rolconnlimit", INT4),
    ("rolpassword", TEXT),
    ("rolvaliduntil", TSTZ),
    ("rolbypassrls", BOOL),
    ("rolconfig", TEXTS),
    ("oid", OID),
];

pub static PG_AUTHID: Columns = &[
    ("oid", OID),
    ("rolname", NAME),
    ("rolsuper", BOOL),
    ("rolinherit", BOOL),
    ("rolcreaterole", BOOL),
    ("rolcreatedb", BOOL),
    ("rolcanlogin", BOOL),
    ("rolreplication", BOOL),
    ("rolbypassrls", BOOL),
    ("rolconnlimit", INT4),
    ("rolpassword", TEXT),
    ("rolvaliduntil", TSTZ),
];

pub static PG_USER: Columns = &[
    ("usename", NAME),
    ("usesysid", OID),
    ("usecreatedb", BOOL),
    ("usesuper", BOOL),
    ("userepl", BOOL),
    ("usebypassrls", BOOL),
    ("passwd", TEXT),
    ("valuntil", TSTZ),
    ("useconfig", TEXTS),
];

pub static PG_AUTH_MEMBERS: Columns = &[
    ("roleid", OID),
    ("member", OID),
    ("grantor", OID),
    ("admin_option", BOOL),
];

pub static PG_PROC: Columns = &[
    ("oid", OID),
    ("proname", NAME),
    ("pronamespace", OID),
    ("proowner", OID),
    ("prolang", OID),
    ("procost", FLOAT4),
    ("prorows", FLOAT4),
    ("provariadic", OID),
    ("prosupport", REGPROC),
    ("prokind", CHAR),
    ("prosecdef", BOOL),
    ("proleakproof", BOOL),
    ("proisstrict", BOOL),
    ("proretset", BOOL),
    ("provolatile", CHAR),
    ("proparallel", CHAR),
    ("pronargs", INT2),
    ("pronargdefaults", INT2),
    ("prorettype", OID),
    ("proargtypes", OIDS),
    ("proallargtypes", OIDS),
    ("proargmodes", CHARS),
    ("proargnames", TEXTS),
    ("proargdefaults", TEXT),
    ("protrftypes", OIDS),
    ("prosrc", TEXT),
    ("probin", TEXT),
    ("prosqlbody", TEXT),
    ("proconfig", TEXTS),
    ("proacl", TEXTS),
];

pub static PG_DESCRIPTION: Columns = &[
    ("objoid", OID),
    ("classoid", OID),
    ("objsubid", INT4),
    ("description", TEXT),
];

pub static PG_RANGE: Columns = &[
    ("rngtypid", OID),
    ("rngsubtype", OID),
    ("rngmultitypid", OID),
    ("rngcollation", OID),
    ("rngsubopc", OID),
    ("rngcanonical", REGPROC),
    ("rngsubdiff", REGPROC),
];

pub static PG_ENUM: Columns = &[
    ("oid", OID),
    ("enumtypid", OID),
    ("enumsortorder", FLOAT4),
    ("enumlabel", NAME),
];

pub static PG_SETTINGS: Columns = &[
    ("name", TEXT),
    ("setting", TEXT),
    ("unit", TEXT),
    ("category", TEXT),
    ("short_desc", TEXT),
    ("extra_desc", TEXT),
    ("context", TEXT),
    ("vartype", TEXT),
    ("source", TEXT),
    ("min_val", TEXT),
    ("max_val", TEXT),
    ("enumvals", TEXTS),
    ("boot_val", TEXT),
    ("reset_val", TEXT),
    ("sourcefile", TEXT),
    ("sourceline", INT4),
    ("pending_restart", BOOL),
];

pub static PG_PREPARED_STATEMENTS: Columns = &[
    ("name", TEXT),
    ("statement", TEXT),
    ("prepare_time", TSTZ),
    ("parameter_types", REGTYPES),
    ("from_sql", BOOL),
    ("generic_plans", INT8),
    ("custom_plans", INT8),
];

pub static PG_COLLATION: Columns = &[
    ("oid", OID),
    ("collname", NAME),
    ("collnamespace", OID),
    ("collowner", OID),
    ("collprovider", CHAR),
    ("collisdeterministic", BOOL),
    ("collencoding", INT4),
    ("collcollate", TEXT),
    ("collctype", TEXT),
    ("colliculocale", TEXT),
    ("collversion", TEXT),
];

pub static PG_TABLESPACE: Columns = &[
    ("oid", OID),
    ("spcname", NAME),
    ("spcowner", OID),
    ("spcacl", TEXTS),
    ("spcoptions", TEXTS),
];

pub static PG_INHERITS: Columns = &[
    ("inhrelid", OID),
    ("inhparent", OID),
    ("inhseqno", INT4),
    ("inhdetachpending", BOOL),
];

pub static PG_POLICY: Columns = &[
    ("oid", OID),
    ("polname", NAME),
    ("polrelid", OID),
    ("polcmd", CHAR),
    ("polpermissive", BOOL),
    ("polroles", OIDS),
    ("polqual", TEXT),
    ("polwithcheck", TEXT),
];

pub static PG_STATISTIC_EXT: Columns = &[
    ("oid", OID),
    ("stxrelid", OID),
    ("stxname", NAME),
    ("stxnamespace", OID),
    ("stxowner", OID),
    ("stxstattarget", INT4),
    ("stxkeys", INT2S),
    ("stxkind", CHARS),
    ("stxexprs", TEXT),
];

pub static PG_PUBLICATION: Columns = &[
    ("oid", OID),
    ("pubname", NAME),
    ("pubowner", OID),
    ("puballtables", BOOL),
    ("pubinsert", BOOL),
    ("pubupdate", BOOL),
    ("pubdelete", BOOL),
    ("pubtruncate", BOOL),
    ("pubviaroot", BOOL),
];

pub static PG_PUBLICATION_REL: Columns = &[
    ("oid", OID),
    ("prpubid", OID),
    ("prrelid", OID),
    ("prqual", TEXT),
    ("prattrs", INT2S),
];

pub static PG_PUBLICATION_NAMESPACE: Columns = &[("oid", OID), ("pnpubid", OID), ("pnnspid", OID)];

pub static PG_PARTITIONED_TABLE: Columns = &[
    ("partrelid", OID),
    ("partstrat", CHAR),
    ("partnatts", INT2),
    ("partdefid", OID),
    ("partattrs", INT2S),
    ("partclass", OIDS),
    ("partcollation", OIDS),
    ("partexprs", TEXT),
];

pub static PG_TRIGGER: Columns = &[
    ("oid", OID),
    ("tgrelid", OID),
    ("tgparentid", OID),
    ("tgname", NAME),
    ("tgfoid", OID),
    ("tgtype", INT2),
    ("tgenabled", CHAR),
    ("tgisinternal", BOOL),
    ("tgconstrrelid", OID),
    ("tgconstrindid", OID),
    ("tgconstraint", OID),
    ("tgdeferrable", BOOL),
    ("tginitdeferred", BOOL),
    ("tgnargs", INT2),
    ("tgattr", INT2S),
    ("tgargs", BYTEA),
    ("tgqual", TEXT),
    ("tgoldtable", NAME),
    ("tgnewtable", NAME),
];

pub static PG_REWRITE: Columns = &[
    ("oid", OID),
    ("rulename", NAME),
    ("ev_class", OID),
    ("ev_type", CHAR),
    ("ev_enabled", CHAR),
    ("is_instead", BOOL),
    ("ev_qual", TEXT),
    ("ev_action", TEXT),
];

pub static PG_FOREIGN_TABLE: Columns = &[("ftrelid", OID), ("ftserver", OID), ("ftoptions", TEXTS)];

pub static PG_SEQUENCE: Columns = &[
    ("seqrelid", OID),
    ("seqtypid", OID),
    ("seqstart", INT8),
    ("seqincrement", INT8),
    ("seqmax", INT8),
    ("seqmin", INT8),
    ("seqcache", INT8),
    ("seqcycle", BOOL),
];

pub static PG_DEPEND: Columns = &[
    ("classid", OID),
    ("objid", OID),
    ("objsubid", INT4),
    ("refclassid", OID),
    ("refobjid", OID),
    ("refobjsubid", INT4),
    ("deptype", CHAR),
];

pub static PG_SEQUENCES: Columns = &[
    ("schemaname", NAME),
    ("sequencename", NAME),
    ("sequenceowner", NAME),
    ("data_type", DataType::Oid(crate::types::OidKind::RegType)),
    ("start_value", INT8),
    ("min_value", INT8),
    ("max_value", INT8),
    ("increment_by", INT8),
    ("cycle", BOOL),
    ("cache_size", INT8),
    ("last_value", INT8),
];

pub static PG_EXTENSION: Columns = &[
    ("oid", OID),
    ("extname", NAME),
    ("extowner", OID),
    ("extnamespace", OID),
    ("extrelocatable", BOOL),
    ("extversion", TEXT),
    ("extconfig", OIDS),
    ("extcondition", TEXTS),
];

pub static PG_TABLES: Columns = &[
    ("schemaname", NAME),
    ("tablename", NAME),
    ("tableowner", NAME),
    ("tablespace", NAME),
    ("hasindexes", BOOL),
    ("hasrules", BOOL),
    ("hastriggers", BOOL),
    ("rowsecurity", BOOL),
];

pub static PG_VIEWS: Columns = &[
    ("schemaname", NAME),
    ("viewname", NAME),
    ("viewowner", NAME),
    ("definition", TEXT),
];

pub static PG_INDEXES: Columns = &[
    ("schemaname", NAME),
    ("tablename", NAME),
    ("indexname", NAME),
    ("tablespace", NAME),
    ("indexdef", TEXT),
];
