// A behavioural MULT18X18D for tests, written from Lattice's description of the cell: an 18x18
// multiplier, each operand signed if its SIGNEDx input is high, with optional input (A, B) and output
// registers. A register is on unless REG_x_CLK = "NONE"; it loads at the rising edge of the CLKn its
// REG_x_CLK names where the CEn of REG_x_CE is high, is cleared at that edge by the RSTn of REG_x_RST
// whatever the enable (RESETMODE = "SYNC"), and powers up 0. SIGNEDx is registered with x.
// Not modelled (the tests leave them off or tied 0): C, the pipeline register, cascades, shifts.
module MULT18X18D(
  input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
  input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
  input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
  input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
  output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
  output P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
  parameter REG_INPUTA_CLK = "NONE", REG_INPUTA_CE = "CE0", REG_INPUTA_RST = "RST0";
  parameter REG_INPUTB_CLK = "NONE", REG_INPUTB_CE = "CE0", REG_INPUTB_RST = "RST0";
  parameter REG_OUTPUT_CLK = "NONE", REG_OUTPUT_CE = "CE0", REG_OUTPUT_RST = "RST0";
  // Accepted and ignored.
  parameter REG_INPUTC_CLK = "NONE", REG_INPUTC_CE = "CE0", REG_INPUTC_RST = "RST0";
  parameter REG_PIPELINE_CLK = "NONE", REG_PIPELINE_CE = "CE0", REG_PIPELINE_RST = "RST0";
  parameter CLK0_DIV = "ENABLED", CLK1_DIV = "ENABLED", CLK2_DIV = "ENABLED", CLK3_DIV = "ENABLED";
  parameter HIGHSPEED_CLK = "NONE", GSR = "ENABLED", CAS_MATCH_REG = "FALSE", SOURCEB_MODE = "B_SHIFT";
  parameter MULT_BYPASS = "DISABLED", RESETMODE = "SYNC";

  wire a_clk = REG_INPUTA_CLK == "CLK3" ? CLK3 : REG_INPUTA_CLK == "CLK2" ? CLK2 : REG_INPUTA_CLK == "CLK1" ? CLK1 : CLK0;
  wire a_ce = REG_INPUTA_CE == "CE3" ? CE3 : REG_INPUTA_CE == "CE2" ? CE2 : REG_INPUTA_CE == "CE1" ? CE1 : CE0;
  wire a_rst = REG_INPUTA_RST == "RST3" ? RST3 : REG_INPUTA_RST == "RST2" ? RST2 : REG_INPUTA_RST == "RST1" ? RST1 : RST0;
  wire b_clk = REG_INPUTB_CLK == "CLK3" ? CLK3 : REG_INPUTB_CLK == "CLK2" ? CLK2 : REG_INPUTB_CLK == "CLK1" ? CLK1 : CLK0;
  wire b_ce = REG_INPUTB_CE == "CE3" ? CE3 : REG_INPUTB_CE == "CE2" ? CE2 : REG_INPUTB_CE == "CE1" ? CE1 : CE0;
  wire b_rst = REG_INPUTB_RST == "RST3" ? RST3 : REG_INPUTB_RST == "RST2" ? RST2 : REG_INPUTB_RST == "RST1" ? RST1 : RST0;
  wire p_clk = REG_OUTPUT_CLK == "CLK3" ? CLK3 : REG_OUTPUT_CLK == "CLK2" ? CLK2 : REG_OUTPUT_CLK == "CLK1" ? CLK1 : CLK0;
  wire p_ce = REG_OUTPUT_CE == "CE3" ? CE3 : REG_OUTPUT_CE == "CE2" ? CE2 : REG_OUTPUT_CE == "CE1" ? CE1 : CE0;
  wire p_rst = REG_OUTPUT_RST == "RST3" ? RST3 : REG_OUTPUT_RST == "RST2" ? RST2 : REG_OUTPUT_RST == "RST1" ? RST1 : RST0;

  wire [18:0] a_in = {SIGNEDA, A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [18:0] b_in = {SIGNEDB, B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
  reg [18:0] a_q = 0, b_q = 0;
  reg [35:0] p_q = 0;
  wire [18:0] a = REG_INPUTA_CLK == "NONE" ? a_in : a_q;
  wire [18:0] b = REG_INPUTB_CLK == "NONE" ? b_in : b_q;
  wire [35:0] a_wide = {{18{a[18] & a[17]}}, a[17:0]};
  wire [35:0] b_wide = {{18{b[18] & b[17]}}, b[17:0]};
  wire [35:0] product = a_wide * b_wide;
  wire [35:0] p = REG_OUTPUT_CLK == "NONE" ? product : p_q;
  always @(posedge a_clk) if (a_rst) a_q <= 0; else if (a_ce) a_q <= a_in;
  always @(posedge b_clk) if (b_rst) b_q <= 0; else if (b_ce) b_q <= b_in;
  always @(posedge p_clk) if (p_rst) p_q <= 0; else if (p_ce) p_q <= product;
  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
          P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
endmodule
