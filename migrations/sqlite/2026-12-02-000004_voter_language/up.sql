-- The language each voter reads (zh, zh-Hant or en; zh when the roll does not say): their paper
-- letter is printed and their code email written in it. Only the roll carries it — never a
-- credential or a ballot — so it links nothing the roll did not already hold.
ALTER TABLE ballot_voters ADD COLUMN language TEXT NOT NULL DEFAULT 'zh';
