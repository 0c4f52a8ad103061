//! The contract suite on both adapter sets: the same cases, the same count.

mod embedded {
    haven_tests::for_each_contract_case!(contract_tests, haven_tests::backends::embedded);
    use haven_tests::contract_tests;
}

mod aws {
    haven_tests::for_each_contract_case!(contract_tests, haven_tests::backends::aws);
    use haven_tests::contract_tests;
}
