// Receipt and annual-statement PDFs drawn with Cairo (PDF surface writing into a std::string)
// and Pango (shaping, bidi, font fallback). See receipt_pdf.hpp for the thread-safety contract.
#include "src/receipts/receipt_pdf.hpp"

#include <cairo-pdf.h>
#include <cairo.h>
#include <glib.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "donatio/clock.hpp"
#include "donatio/money.hpp"
#include "src/receipts/receipt_text.hpp"

namespace donatio::receipts {
namespace {

// ---- geometry (PDF user units = points) ----------------------------------------------------

constexpr double kPageWidth = 595.276;   // A4: 210 mm
constexpr double kPageHeight = 841.890;  // A4: 297 mm
constexpr double kMargin = 56.69;        // 20 mm
constexpr double kContentWidth = kPageWidth - 2 * kMargin;
constexpr double kBottomLimit = kPageHeight - kMargin - 24;  // room for the page footer
constexpr double kLabelWidth = 130;
constexpr double kValueX = kMargin + kLabelWidth + 10;
constexpr double kValueWidth = kContentWidth - kLabelWidth - 10;
constexpr const char* kFontFamily = "DejaVu Sans";

struct Color {
  double r, g, b;
};
constexpr Color kBlack{0.0, 0.0, 0.0};
constexpr Color kGrey{0.38, 0.38, 0.38};
constexpr Color kRule{0.75, 0.75, 0.75};
constexpr Color kAlert{0.75, 0.05, 0.05};

struct TextStyle {
  double size_pt;
  bool bold;
};
constexpr TextStyle kOrgStyle{15, true};
constexpr TextStyle kSmallStyle{9, false};
constexpr TextStyle kTitleStyle{20, true};
constexpr TextStyle kBodyStyle{10.5, false};
constexpr TextStyle kLabelStyle{10, false};
constexpr TextStyle kValueStyle{11, false};
constexpr TextStyle kAmountStyle{14, true};
constexpr TextStyle kTableHeadStyle{9.5, true};
constexpr TextStyle kTableStyle{9.5, false};
constexpr TextStyle kStampStyle{18, true};

// ---- text hygiene --------------------------------------------------------------------------

// Pango requires valid UTF-8; replace anything else (including NUL bytes) by U+FFFD.
std::string valid_utf8(std::string_view text) {
  const auto length = static_cast<gssize>(text.size());
  if (g_utf8_validate(text.data(), length, nullptr)) return std::string(text);
  gchar* fixed = g_utf8_make_valid(text.data(), length);
  std::string out(fixed);
  g_free(fixed);
  return out;
}

// For fields printed on one line (names, numbers, e-mail): valid UTF-8 without control
// characters.
std::string one_line(std::string_view text) { return single_line(valid_utf8(text)); }

// ---- font map: one per thread, fontconfig initialised once ---------------------------------

void set_points_resolution(PangoFontMap* font_map) {
  // 72 dpi: a "10 pt" font is 10 PDF user units high (Pango's default is 96 dpi).
  pango_cairo_font_map_set_resolution(PANGO_CAIRO_FONT_MAP(font_map), 72.0);
}

// Loads the fontconfig configuration and font cache once, on one thread, by shaping a little
// text; afterwards font maps on other threads only read that shared state.
void initialise_fontconfig_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    PangoFontMap* font_map = pango_cairo_font_map_new();
    PangoContext* context = pango_font_map_create_context(font_map);
    PangoLayout* layout = pango_layout_new(context);
    PangoFontDescription* font = pango_font_description_from_string(kFontFamily);
    pango_layout_set_font_description(layout, font);
    pango_layout_set_text(layout, "Receipt \xe7\x8e\x8b \xd9\x84", -1);  // Latin, CJK, Arabic
    int width = 0;
    int height = 0;
    pango_layout_get_size(layout, &width, &height);
    pango_font_description_free(font);
    g_object_unref(layout);
    g_object_unref(context);
    g_object_unref(font_map);
  });
}

class ThreadFontMap {
 public:
  ThreadFontMap() : font_map_(pango_cairo_font_map_new()) { set_points_resolution(font_map_); }
  ~ThreadFontMap() { g_object_unref(font_map_); }
  ThreadFontMap(const ThreadFontMap&) = delete;
  ThreadFontMap& operator=(const ThreadFontMap&) = delete;
  PangoFontMap* get() const { return font_map_; }

 private:
  PangoFontMap* font_map_;
};

PangoFontMap* font_map_for_this_thread() {
  initialise_fontconfig_once();
  thread_local ThreadFontMap font_map;
  return font_map.get();
}

// ---- RAII for the C objects ----------------------------------------------------------------

struct SurfaceDeleter {
  void operator()(cairo_surface_t* surface) const { cairo_surface_destroy(surface); }
};
struct CairoDeleter {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
};
struct GObjectDeleter {
  void operator()(gpointer object) const { g_object_unref(object); }
};
struct FontDescriptionDeleter {
  void operator()(PangoFontDescription* font) const { pango_font_description_free(font); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using CairoPtr = std::unique_ptr<cairo_t, CairoDeleter>;
using ContextPtr = std::unique_ptr<PangoContext, GObjectDeleter>;
using LayoutPtr = std::unique_ptr<PangoLayout, GObjectDeleter>;
using FontPtr = std::unique_ptr<PangoFontDescription, FontDescriptionDeleter>;

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  try {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
  } catch (...) {  // no exception may cross the C boundary
    return CAIRO_STATUS_WRITE_ERROR;
  }
}

// ---- a flowing A4 canvas -------------------------------------------------------------------

// One PDF document being drawn top to bottom; `y` is the current baseline of the flow.
class PdfCanvas {
 public:
  PdfCanvas() {
    surface_.reset(cairo_pdf_surface_create_for_stream(append_to_string, &bytes_, kPageWidth,
                                                       kPageHeight));
    check(cairo_surface_status(surface_.get()));
    cr_.reset(cairo_create(surface_.get()));
    check(cairo_status(cr_.get()));
    context_.reset(pango_font_map_create_context(font_map_for_this_thread()));
    cairo_font_options_t* options = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(context_.get(), options);
    cairo_font_options_destroy(options);
    pango_cairo_update_context(cr_.get(), context_.get());
  }

  void set_metadata(cairo_pdf_metadata_t key, const std::string& value) {
    cairo_pdf_surface_set_metadata(surface_.get(), key, valid_utf8(value).c_str());
  }

  // A laid-out text; `width` > 0 wraps (and aligns) within that width. Paragraphs take their
  // base direction from their text (an Arabic statement is right-aligned); fields and table
  // cells keep the document's left-to-right base so they start at their column, while Pango
  // still orders right-to-left runs inside them correctly.
  enum class Direction { from_text, document };
  LayoutPtr layout(const std::string& text, TextStyle style, double width = 0,
                   PangoAlignment alignment = PANGO_ALIGN_LEFT,
                   Direction direction = Direction::document) const {
    LayoutPtr layout(pango_layout_new(context_.get()));
    pango_layout_set_auto_dir(layout.get(), direction == Direction::from_text);
    FontPtr font(pango_font_description_from_string(kFontFamily));
    pango_font_description_set_size(font.get(),
                                    static_cast<gint>(style.size_pt * PANGO_SCALE));
    pango_font_description_set_weight(font.get(),
                                      style.bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(layout.get(), font.get());
    if (width > 0) {
      pango_layout_set_width(layout.get(), static_cast<int>(width * PANGO_SCALE));
      pango_layout_set_wrap(layout.get(), PANGO_WRAP_WORD_CHAR);
      pango_layout_set_alignment(layout.get(), alignment);
    }
    const std::string safe = valid_utf8(text);
    pango_layout_set_text(layout.get(), safe.data(), static_cast<int>(safe.size()));
    return layout;
  }

  static double height(PangoLayout* layout) {
    int width = 0;
    int height = 0;
    pango_layout_get_size(layout, &width, &height);
    return static_cast<double>(height) / PANGO_SCALE;
  }

  static double width(PangoLayout* layout) {
    int width = 0;
    int height = 0;
    pango_layout_get_size(layout, &width, &height);
    return static_cast<double>(width) / PANGO_SCALE;
  }

  void show(PangoLayout* layout, double x, double y, Color color) {
    cairo_set_source_rgb(cr_.get(), color.r, color.g, color.b);
    cairo_move_to(cr_.get(), x, y);
    pango_cairo_show_layout(cr_.get(), layout);
  }

  // Draws a paragraph at the left margin and advances the flow.
  void paragraph(const std::string& text, TextStyle style, Color color, double gap_after,
                 double width = kContentWidth) {
    if (text.empty()) return;
    LayoutPtr block = layout(text, style, width, PANGO_ALIGN_LEFT, Direction::from_text);
    reserve(height(block.get()));
    show(block.get(), kMargin, y, color);
    y += height(block.get()) + gap_after;
  }

  // "Label      value" on one row; the value may wrap within its column.
  void field(const std::string& label, const std::string& value, TextStyle value_style) {
    if (value.empty()) return;
    LayoutPtr label_layout = layout(label, kLabelStyle, kLabelWidth);
    LayoutPtr value_layout = layout(value, value_style, kValueWidth);
    const double label_height = height(label_layout.get());
    const double value_height = height(value_layout.get());
    const double row_height = std::max(label_height, value_height);
    reserve(row_height);
    // Align the label with the value's first baseline when the value is larger.
    const double label_offset =
        std::max(0.0, static_cast<double>(pango_layout_get_baseline(value_layout.get()) -
                                          pango_layout_get_baseline(label_layout.get())) /
                          PANGO_SCALE);
    show(label_layout.get(), kMargin, y + label_offset, kGrey);
    show(value_layout.get(), kValueX, y, kBlack);
    y += row_height + 7;
  }

  void rule(double gap_before, double gap_after, double line_width = 0.6) {
    y += gap_before;
    cairo_set_source_rgb(cr_.get(), kRule.r, kRule.g, kRule.b);
    cairo_set_line_width(cr_.get(), line_width);
    cairo_move_to(cr_.get(), kMargin, y);
    cairo_line_to(cr_.get(), kMargin + kContentWidth, y);
    cairo_stroke(cr_.get());
    y += gap_after;
  }

  // A stamp in a box whose top-right corner is at (right, top).
  void stamp(const std::string& text, double right, double top) {
    LayoutPtr stamp_layout = layout(text, kStampStyle);
    const double padding = 6;
    const double box_width = width(stamp_layout.get()) + 2 * padding;
    const double box_height = height(stamp_layout.get()) + 2 * padding;
    cairo_set_source_rgb(cr_.get(), kAlert.r, kAlert.g, kAlert.b);
    cairo_set_line_width(cr_.get(), 2);
    cairo_rectangle(cr_.get(), right - box_width, top, box_width, box_height);
    cairo_stroke(cr_.get());
    show(stamp_layout.get(), right - box_width + padding, top + padding, kAlert);
  }

  // Starts a new page when `needed` points do not fit below the flow.
  void reserve(double needed) {
    if (y + needed <= kBottomLimit || y <= kMargin) return;
    new_page();
  }

  void new_page() {
    if (on_page_end) on_page_end(page_number);
    cairo_show_page(cr_.get());
    ++page_number;
    y = kMargin;
    if (on_page_start) on_page_start(page_number);
  }

  // Ends the document and returns its bytes. REQUIRES: called once, last.
  std::string finish() {
    if (on_page_end) on_page_end(page_number);
    check(cairo_status(cr_.get()));
    cr_.reset();
    cairo_surface_finish(surface_.get());
    check(cairo_surface_status(surface_.get()));
    surface_.reset();
    return std::move(bytes_);
  }

  double y = kMargin;
  int page_number = 1;
  // Hooks for running headers/footers; may draw but must not start pages themselves.
  std::function<void(int page)> on_page_start;
  std::function<void(int page)> on_page_end;

 private:
  static void check(cairo_status_t status) {
    if (status != CAIRO_STATUS_SUCCESS) {
      throw std::runtime_error(std::string("PDF rendering failed: ") +
                               cairo_status_to_string(status));
    }
  }

  // Declaration order matters: the surface writes into bytes_ until it is destroyed.
  std::string bytes_;
  SurfacePtr surface_;
  CairoPtr cr_;
  ContextPtr context_;
};

// Organisation name, address and tax id, then a rule.
void draw_organisation(PdfCanvas& canvas, const std::string& name, const std::string& address,
                       const std::string& tax_id, double width) {
  canvas.paragraph(one_line(name), kOrgStyle, kBlack, 3, width);
  canvas.paragraph(address, kSmallStyle, kGrey, 2, width);
  if (!tax_id.empty()) canvas.paragraph("Tax ID: " + one_line(tax_id), kSmallStyle, kGrey, 0, width);
  canvas.rule(10, 16);
}

std::string receipt_title(donatio::ReceiptKind kind) {
  switch (kind) {
    case donatio::ReceiptKind::original: return "Donation receipt";
    case donatio::ReceiptKind::amended: return "Amended donation receipt";
    case donatio::ReceiptKind::void_notice: return "Void notice";
  }
  return "Donation receipt";
}

// ---- statement table -----------------------------------------------------------------------

constexpr double kDateX = kMargin;
constexpr double kDateWidth = 72;
constexpr double kNumberX = kDateX + kDateWidth + 8;
constexpr double kNumberWidth = 112;
constexpr double kAmountWidth = 110;
constexpr double kAmountX = kMargin + kContentWidth - kAmountWidth;
constexpr double kCampaignX = kNumberX + kNumberWidth + 8;
constexpr double kCampaignWidth = kAmountX - 8 - kCampaignX;

void draw_table_row(PdfCanvas& canvas, const std::string& date, const std::string& number,
                    const std::string& campaign, const std::string& amount, TextStyle style) {
  LayoutPtr date_layout = canvas.layout(date, style, kDateWidth);
  LayoutPtr number_layout = canvas.layout(number, style, kNumberWidth);
  LayoutPtr campaign_layout = canvas.layout(campaign, style, kCampaignWidth);
  LayoutPtr amount_layout = canvas.layout(amount, style, kAmountWidth, PANGO_ALIGN_RIGHT);
  const double row_height = std::max({PdfCanvas::height(date_layout.get()),
                                      PdfCanvas::height(number_layout.get()),
                                      PdfCanvas::height(campaign_layout.get()),
                                      PdfCanvas::height(amount_layout.get())});
  canvas.reserve(row_height);
  canvas.show(date_layout.get(), kDateX, canvas.y, kBlack);
  canvas.show(number_layout.get(), kNumberX, canvas.y, kBlack);
  canvas.show(campaign_layout.get(), kCampaignX, canvas.y, kBlack);
  canvas.show(amount_layout.get(), kAmountX, canvas.y, kBlack);
  canvas.y += row_height + 5;
}

void draw_table_header(PdfCanvas& canvas) {
  draw_table_row(canvas, "Date", "Receipt number", "Campaign", "Net amount", kTableHeadStyle);
  canvas.rule(-2, 6, 0.8);
}

}  // namespace

std::string render_receipt_pdf(const donatio::ReceiptDocument& receipt) {
  PdfCanvas canvas;
  canvas.set_metadata(CAIRO_PDF_METADATA_TITLE, receipt.number);
  canvas.set_metadata(CAIRO_PDF_METADATA_CREATOR, "donatio");
  canvas.set_metadata(CAIRO_PDF_METADATA_AUTHOR, receipt.org_name);
  canvas.set_metadata(CAIRO_PDF_METADATA_CREATE_DATE, format_iso8601(receipt.issued_at));

  // Leave room on the right of the organisation block for the DUPLICATE stamp.
  const double org_width = receipt.duplicate ? kContentWidth - 150 : kContentWidth;
  if (receipt.duplicate) canvas.stamp("DUPLICATE", kMargin + kContentWidth, kMargin);
  draw_organisation(canvas, receipt.org_name, receipt.org_address, receipt.org_tax_id, org_width);

  canvas.paragraph(receipt_title(receipt.kind), kTitleStyle, kBlack, 6);
  const std::string original = one_line(receipt.references_number);
  if (receipt.kind == donatio::ReceiptKind::amended) {
    canvas.paragraph("Amends and replaces receipt " + original + ".", kBodyStyle, kBlack, 4);
  } else if (receipt.kind == donatio::ReceiptKind::void_notice) {
    canvas.paragraph("Voids receipt " + original +
                         ". That receipt is cancelled and no longer valid for tax purposes.",
                     kBodyStyle, kBlack, 4);
  }
  if (receipt.duplicate) {
    canvas.paragraph("This is a duplicate copy of a document already issued. It does not "
                     "record an additional gift.",
                     kBodyStyle, kAlert, 4);
  }
  canvas.y += 12;

  canvas.field("Receipt number", one_line(receipt.number), kValueStyle);
  canvas.field("Issue date", iso_date(receipt.issued_at), kValueStyle);
  canvas.field("Date of gift", iso_date(receipt.gift_at), kValueStyle);
  canvas.field("Donor", one_line(receipt.donor_name), kValueStyle);
  canvas.field("E-mail", one_line(receipt.donor_email), kValueStyle);
  canvas.field(amount_label(receipt.kind), format_money(receipt.amount), kAmountStyle);
  canvas.field("Campaign", one_line(receipt.campaign_title), kValueStyle);
  canvas.field("Payment reference", one_line(receipt.payment_reference), kValueStyle);

  if (!receipt.statement.empty()) {
    canvas.rule(8, 14);
    canvas.paragraph(receipt.statement, kBodyStyle, kBlack, 0);
  }
  return canvas.finish();
}

std::string render_statement_pdf(const donatio::AnnualStatement& statement) {
  const std::string title = "Annual donation statement " + std::to_string(statement.year);
  PdfCanvas canvas;
  canvas.set_metadata(CAIRO_PDF_METADATA_TITLE, title);
  canvas.set_metadata(CAIRO_PDF_METADATA_CREATOR, "donatio");
  canvas.set_metadata(CAIRO_PDF_METADATA_AUTHOR, statement.org_name);
  canvas.set_metadata(CAIRO_PDF_METADATA_CREATE_DATE, format_iso8601(statement.issued_at));

  bool in_table = false;
  canvas.on_page_end = [&canvas, &title](int page) {
    LayoutPtr footer = canvas.layout(title + " \xe2\x80\x94 page " + std::to_string(page),
                                     kSmallStyle, kContentWidth, PANGO_ALIGN_RIGHT);
    canvas.show(footer.get(), kMargin, kPageHeight - kMargin, kGrey);
  };
  canvas.on_page_start = [&canvas, &in_table](int) {
    if (in_table) draw_table_header(canvas);
  };

  draw_organisation(canvas, statement.org_name, statement.org_address, statement.org_tax_id,
                    kContentWidth);
  canvas.paragraph(title, kTitleStyle, kBlack, 18);
  canvas.field("Year", std::to_string(statement.year), kValueStyle);
  canvas.field("Issue date", iso_date(statement.issued_at), kValueStyle);
  canvas.field("Donor", one_line(statement.donor_name), kValueStyle);
  canvas.field("E-mail", one_line(statement.donor_email), kValueStyle);
  canvas.y += 14;

  if (statement.lines.empty()) {
    canvas.paragraph("No gifts were received from this donor in " +
                         std::to_string(statement.year) + ".",
                     kBodyStyle, kBlack, 10);
  } else {
    canvas.reserve(60);  // never leave a table header alone at the bottom of a page
    draw_table_header(canvas);
    in_table = true;
    for (const auto& line : statement.lines) {
      draw_table_row(canvas, iso_date(line.gift_at), one_line(line.receipt_number),
                     one_line(line.campaign_title), format_money(line.net_amount),
                     kTableStyle);
    }
    in_table = false;
    canvas.rule(0, 8, 0.8);
    for (const auto& total : statement.totals) {
      draw_table_row(canvas, "", "", "Total " + upper_currency(total.currency),
                     format_money(total), kTableHeadStyle);
    }
  }

  if (!statement.statement.empty()) {
    canvas.rule(10, 14);
    canvas.paragraph(statement.statement, kBodyStyle, kBlack, 0);
  }
  return canvas.finish();
}

}  // namespace donatio::receipts
