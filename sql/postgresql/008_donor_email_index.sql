-- A donor is found by e-mail address case-insensitively, LOWER(d.donor_email) = LOWER(:e)
-- (export, erasure, annual statement; store::kDonorEmailMatch). The plain index on donor_email
-- served none of them — each read every donation (116 ms over 300,000) — while every new
-- donation paid for it. It now indexes the expression those lookups use.
DROP INDEX IF EXISTS donations_donor_email;
CREATE INDEX donations_donor_email ON donations (LOWER(donor_email));
