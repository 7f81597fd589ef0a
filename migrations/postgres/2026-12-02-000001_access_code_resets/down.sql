DROP TABLE access_code_resets;
