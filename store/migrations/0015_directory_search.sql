-- The directory's search by words: each word typed matches the start of a word of a name or
-- a commune, accents and case aside (« epicerie mars » finds « Épicerie de Marseille »),
-- through a GIN index instead of reading every organisation. Built from what Postgres has
-- without extensions (no pg_trgm or unaccent in the embedded server). Each function calls
-- only built-ins: an index's function must not depend on the search path (pg_restore runs
-- with an empty one), so the accents' table is written in both (tests/api/test_organisations
-- searches with and for accented words). Capitals are folded by the table itself, not left
-- to lower(), which under a C locale lowers ASCII only; « œ » and « æ » become « oe », « ae ».
CREATE FUNCTION organisation_words(name text, commune text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('simple', lower(translate(replace(replace(replace(replace(coalesce(name, '') || ' ' || coalesce(commune, ''), 'œ', 'oe'), 'Œ', 'oe'), 'æ', 'ae'), 'Æ', 'ae'),
                'àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ',
                'aaaaaaceeeeiiiinooooouuuuyyaaaaaaceeeeiiiinooooouuuuyy')))
$$;

-- What a person typed as a query: its words, each a prefix, all of them required; NULL (no
-- match) when it holds no word.
CREATE FUNCTION organisation_query(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsquery('simple', string_agg(w || ':*', ' & '))
    FROM regexp_split_to_table(
        lower(translate(replace(replace(replace(replace(q, 'œ', 'oe'), 'Œ', 'oe'), 'æ', 'ae'), 'Æ', 'ae'),
                'àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ',
                'aaaaaaceeeeiiiinooooouuuuyyaaaaaaceeeeiiiinooooouuuuyy')),
        '[^[:alnum:]]+') w
    WHERE w <> ''
$$;

CREATE INDEX organisations_words ON organisations USING gin (organisation_words(name, commune));
-- A SIRET's first digits (the directory's search by number).
CREATE INDEX organisations_siret_prefix ON organisations (siret bpchar_pattern_ops);
