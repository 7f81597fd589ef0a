DROP TABLE assessment_reviews;
