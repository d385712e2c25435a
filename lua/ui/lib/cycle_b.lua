%include "../cycle_a"
