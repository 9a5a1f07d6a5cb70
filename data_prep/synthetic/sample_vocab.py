"""Vocabulary and sentence templates of the synthetic sample corpus (see :mod:`sample_corpus`).

Invented for this project.  Entities come in consistent pairs (each drug
treats particular conditions, each gene is studied in particular diseases and
tissues), so a small language model trained on the sample can visibly learn
associations such as "metformin ... type 2 diabetes" as well as the
BACKGROUND/METHODS/RESULTS/CONCLUSIONS structure of abstracts.
"""

from __future__ import annotations

# drug -> conditions it is studied for, and the measure it is expected to change
DRUGS = {
    "metformin": (["type 2 diabetes", "polycystic ovary syndrome"], "glycated haemoglobin"),
    "atorvastatin": (["hypercholesterolaemia", "coronary artery disease"], "LDL cholesterol"),
    "lisinopril": (["hypertension", "chronic kidney disease"], "systolic blood pressure"),
    "salbutamol": (["asthma", "chronic obstructive pulmonary disease"], "forced expiratory volume"),
    "budesonide": (["asthma", "Crohn's disease"], "exacerbation rate"),
    "levothyroxine": (["hypothyroidism"], "thyroid-stimulating hormone"),
    "sertraline": (["major depressive disorder", "generalized anxiety disorder"], "depression score"),
    "amoxicillin": (["community-acquired pneumonia", "acute otitis media"], "clinical cure rate"),
    "warfarin": (["atrial fibrillation", "venous thromboembolism"], "stroke incidence"),
    "methotrexate": (["rheumatoid arthritis", "psoriasis"], "disease activity score"),
    "tamoxifen": (["breast cancer"], "recurrence rate"),
    "imatinib": (["chronic myeloid leukaemia", "gastrointestinal stromal tumour"], "progression-free survival"),
    "insulin glargine": (["type 1 diabetes", "type 2 diabetes"], "fasting plasma glucose"),
    "omeprazole": (["gastro-oesophageal reflux disease", "peptic ulcer disease"], "symptom relief"),
    "ivermectin": (["onchocerciasis", "strongyloidiasis"], "parasite clearance"),
    "artesunate": (["severe malaria"], "parasite clearance"),
    "rituximab": (["non-Hodgkin lymphoma", "rheumatoid arthritis"], "complete response rate"),
    "dexamethasone": (["bacterial meningitis", "acute respiratory distress syndrome"], "28-day mortality"),
}

# gene -> (diseases, tissue, assay)
GENES = {
    "TP53": (["colorectal cancer", "breast cancer"], "tumour tissue", "immunohistochemistry"),
    "BRCA1": (["breast cancer", "ovarian cancer"], "peripheral blood", "targeted sequencing"),
    "TERT": (["pancreatic cancer", "bladder cancer"], "leucocytes", "quantitative PCR"),
    "APOE": (["Alzheimer's disease"], "cerebrospinal fluid", "genotyping"),
    "CFTR": (["cystic fibrosis"], "nasal epithelium", "patch-clamp recording"),
    "HBB": (["sickle cell disease", "beta-thalassaemia"], "erythroid progenitors", "Sanger sequencing"),
    "EGFR": (["non-small-cell lung cancer", "glioblastoma"], "tumour tissue", "next-generation sequencing"),
    "PCSK9": (["hypercholesterolaemia"], "liver", "ELISA"),
    "IL6": (["rheumatoid arthritis", "sepsis"], "serum", "ELISA"),
    "TNF": (["Crohn's disease", "psoriasis"], "intestinal mucosa", "RNA sequencing"),
    "HLA-B27": (["ankylosing spondylitis"], "peripheral blood", "flow cytometry"),
    "FTO": (["obesity", "type 2 diabetes"], "adipose tissue", "genome-wide association analysis"),
    "ACE2": (["COVID-19"], "airway epithelium", "single-cell RNA sequencing"),
    "MTHFR": (["neural tube defects"], "maternal blood", "genotyping"),
}

POPULATIONS = ["adults", "children", "older adults", "adolescents", "pregnant women", "outpatients",
               "hospitalized patients", "healthy volunteers", "men", "women"]
DESIGNS = ["randomized controlled trial", "double-blind, placebo-controlled trial", "prospective cohort study",
           "retrospective cohort study", "case-control study", "cross-sectional study", "open-label trial"]
ORGANISMS = ["mice", "rats", "zebrafish", "Drosophila melanogaster", "Saccharomyces cerevisiae", "Escherichia coli"]
OUTCOMES = ["morbidity and mortality", "hospital admission", "disability", "premature death", "reduced quality of life"]
COUNTRIES = ["Mozambique", "Denmark", "Brazil", "Japan", "Kenya", "Canada", "India", "Sweden", "Chile", "Vietnam"]

# Sentence templates per study type: each abstract draws all its sentences from one type.
STUDIES = {
    "trial": {
        "BACKGROUND": [
            "{disease_cap} is a leading cause of {outcome} among {population}.",
            "{drug_cap} is widely used in the treatment of {disease}, but its effect on {measure} in {population} is uncertain.",
            "Previous studies of {drug} in {disease} were small and reported inconsistent effects on {measure}.",
        ],
        "OBJECTIVE": [
            "We aimed to evaluate whether {drug} improves {measure} in {population} with {disease}.",
            "We assessed the efficacy and safety of {drug} in {population} with {disease}.",
        ],
        "METHODS": [
            "We conducted a {design} involving {n} {population} with {disease}.",
            "Participants were randomly assigned to receive {drug} ({dose} mg daily) or placebo for {weeks} weeks.",
            "The primary outcome was the change in {measure} from baseline to week {weeks}.",
            "Data were collected in {k} centres in {country} between {y1} and {y2}.",
        ],
        "RESULTS": [
            "{drug_cap} improved {measure} by {pct}% compared with placebo (95% CI, {pct_lo} to {pct_hi}; P={p}).",
            "Adverse events occurred in {k} of {n} participants in the {drug} group and {k2} of {n2} in the placebo group.",
            "The effect of {drug} on {measure} was consistent across subgroups defined by age and sex.",
            "The correlation between {measure} and age was weak (r<sup>2</sup> = 0.{r2}).",
        ],
        "CONCLUSIONS": [
            "In {population} with {disease}, {drug} improved {measure} and was well tolerated.",
            "{drug_cap} did not improve {measure} in {population} with {disease}; larger trials are needed.",
        ],
        "TITLES": [
            "{drug_cap} for {disease} in {population}: a {design}.",
            "Effect of {drug} on {measure} in patients with {disease}.",
            "{drug_cap} versus placebo in {disease}: results of a {design}.",
        ],
    },
    "gene": {
        "BACKGROUND": [
            "The role of {gene} in {gene_disease} remains poorly understood.",
            "Variants in {gene} have been associated with {gene_disease} in several populations.",
            "{gene_disease_cap} is a major cause of {outcome} worldwide.",
        ],
        "OBJECTIVE": [
            "This study examined the association between {gene} expression in {tissue} and the risk of {gene_disease}.",
            "We investigated whether loss of {gene} causes features of {gene_disease} in {organism}.",
        ],
        "METHODS": [
            "{gene} expression was measured by {assay} in {tissue} samples from {n} patients and {n2} controls.",
            "Odds ratios and 95% confidence intervals were estimated by conditional logistic regression.",
            "Knockout {organism} lacking {gene} were compared with wild-type littermates.",
            "Samples were collected in {k} centres in {country} between {y1} and {y2}.",
        ],
        "RESULTS": [
            "Expression of {gene} was {direction} in {tissue} from patients with {gene_disease} than in controls (P<{p}).",
            "Carriers of the risk allele had an odds ratio of {ratio} for {gene_disease} (95% CI, {lo} to {hi}).",
            "In {organism}, loss of {gene} led to a {pct}% reduction in survival at {weeks} weeks.",
        ],
        "CONCLUSIONS": [
            "These findings suggest that {gene} is a potential therapeutic target in {gene_disease}.",
            "Testing for {gene} variants may help identify patients at risk of {gene_disease}.",
        ],
        "TITLES": [
            "{gene} expression in {tissue} and risk of {gene_disease}.",
            "Loss of {gene} in {organism} as a model of {gene_disease}.",
            "Variants in {gene} and susceptibility to {gene_disease}: a {design}.",
        ],
    },
    "survey": {
        "BACKGROUND": [
            "Little is known about the burden of {disease} in {country}.",
            "{disease_cap} is a leading cause of {outcome} among {population}.",
        ],
        "OBJECTIVE": [
            "The objective was to estimate the prevalence of {disease} among {population} in {country}.",
        ],
        "METHODS": [
            "We conducted a {design} of {n} {population} in {k} districts of {country}.",
            "Data were collected between {y1} and {y2} with a standardized questionnaire.",
            "Prevalence estimates were weighted to the national population.",
        ],
        "RESULTS": [
            "The prevalence of {disease} was {pct}% (95% CI, {pct_lo} to {pct_hi}) and increased with age.",
            "Only {k} of {n} participants with {disease} had been diagnosed before the study.",
            "Treatment with {drug} was reported by {pct_lo}% of participants with {disease}.",
        ],
        "CONCLUSIONS": [
            "{disease_cap} is common among {population} in {country} and deserves targeted screening.",
        ],
        "TITLES": [
            "Prevalence of {disease} among {population} in {country}.",
            "Burden of {disease} in {country}: a {design}.",
        ],
    },
}
# Titles of non-English articles: NLM gives the English translation in brackets.
FOREIGN = {
    "fre": ("Traitement de la maladie chez l'adulte.", "Nous avons étudié l'effet du traitement chez {n} patients atteints de la maladie. Les résultats montrent une amélioration significative des symptômes après {weeks} semaines."),
    "ger": ("Behandlung der Erkrankung bei Erwachsenen.", "Wir untersuchten die Wirkung der Behandlung bei {n} Patienten. Die Ergebnisse zeigen eine deutliche Besserung der Beschwerden nach {weeks} Wochen."),
    "spa": ("Tratamiento de la enfermedad en adultos.", "Estudiamos el efecto del tratamiento en {n} pacientes con la enfermedad. Los resultados muestran una mejoría significativa después de {weeks} semanas."),
}
JOURNALS = ["J Clin Invest Synth", "Ann Synth Med", "Synth Epidemiol", "Int J Synth Genet", "Synth Trop Med Hyg",
            "Br J Synth Pharmacol", "Synth Respir Res"]
