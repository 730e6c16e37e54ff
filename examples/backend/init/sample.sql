-- init/sample.sql -- sample users and notes: alice and bob (role user), admin (role admin); each password is the name followed by "-password".
--
-- The hashes are yescrypt ($y$, cost 5), made with crypt_gensalt_rn("$y$", 5)
-- and crypt_rn(); loading twice adds nothing.

INSERT INTO users (name, password_hash, role) VALUES
    ('alice', '$y$j9T$tYlXf3y3bP7ev5jr5Djbv/$50QGkouA/ZipyoZE4/nY/5UE65CliZnx0qPpzWXygsC', 'user'),
    ('bob',   '$y$j9T$peGnKUI/Ghnb3Y7SSXhpp0$Y7gjn9XtcJsuK0Pr641pVbM7W8i4tbCKvOd0oWa3IVA', 'user'),
    ('admin', '$y$j9T$1uzLGxyuKagWwrNcGwTJi0$a82JNeSm7yi1PxxDX4MqcuHGZHYlBhEb6U.2epBAY53', 'admin')
ON CONFLICT (name) DO NOTHING;

INSERT INTO notes (user_id, title, body)
SELECT u.id, n.title, n.body
FROM (VALUES
    ('alice', 'Shopping', 'bread, milk, tea'),
    ('alice', 'Reading', 'The C Programming Language, chapter 8'),
    ('bob', 'Ideas', 'a kiln for pottery, a kiln for HTTP')
) AS n(owner, title, body)
JOIN users u ON u.name = n.owner
WHERE NOT EXISTS (SELECT 1 FROM notes);
